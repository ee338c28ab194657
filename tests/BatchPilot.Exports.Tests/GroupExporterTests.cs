using System.Text.Json;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Testing;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Validation;
using DocumentFormat.OpenXml.Wordprocessing;

namespace BatchPilot.Exports.Tests;

/// <summary>The side-by-side output of a comparison group, from real jobs in a real store.</summary>
public sealed class GroupExporterTests : IDisposable
{
    private readonly ExportJobs _jobs = new();

    public void Dispose() => _jobs.Dispose();

    private static readonly (string CustomId, string?[] Values)[] Rows =
    [
        ("q-1", ["Résumez le traitement par lot", "q-1"]),
        ("q-2", ["Pourquoi 24 h ?", "q-2"]),
        ("q-3", ["列出三个要点", "q-3"]),
    ];

    /// <summary>Two variants over the same three rows: gpt-4o-mini answers all; claude-haiku-4-5 fails q-2.</summary>
    private async Task<(GroupRecord Group, IReadOnlyList<ComparedJob> Variants)> ComparisonAsync()
    {
        var a = await _jobs.CreateAsync("job-0000a1", ["question", "id"], "id", Rows, name: "avis [gpt-4o-mini]");
        var b = await _jobs.CreateAsync("job-0000b2", ["question", "id"], "id", Rows, name: "avis [claude-haiku-4-5]", model: "claude-haiku-4-5", provider: "anthropic");
        var ba = await _jobs.SubmitAsync(a.Id, [1, 2, 3], "batch_aaa111");
        var bb = await _jobs.SubmitAsync(b.Id, [1, 2, 3], "msgbatch_bbb222");
        await _jobs.CollectAsync(ba, [ExportJobs.Ok("q-1", "# Réponse A1\n\nTexte **A1**."), ExportJobs.Ok("q-2", "A2", 10, 2), ExportJobs.Ok("q-3", "A3", 11, 3)]);
        await _jobs.CollectAsync(bb, [ExportJobs.Ok("q-1", "B1", 12, 4), ExportJobs.Failed("q-2", "overloaded_error", "Overloaded"), ExportJobs.Ok("q-3", "B3", 13, 5)]);
        a = await _jobs.FinishAsync(a.Id, JobStatus.Completed);
        b = await _jobs.FinishAsync(b.Id);
        var group = new GroupRecord
        {
            Id = "grp-c0ffee",
            Name = "avis",
            Fingerprint = GroupRecord.FingerprintOf([a.Fingerprint, b.Fingerprint]),
            CreatedAt = ExportJobs.Start,
            Members = [new GroupMember(0, "gpt-4o-mini", a.Id, a.Fingerprint), new GroupMember(1, "claude-haiku-4-5", b.Id, b.Fingerprint)],
        };
        return (group, [new ComparedJob("gpt-4o-mini", a), new ComparedJob("claude-haiku-4-5", b)]);
    }

    [Fact]
    public async Task Export_Csv_PutsTheVariantsSideBySide_RowByRow()
    {
        var (group, variants) = await ComparisonAsync();
        var path = _jobs.Ws.PathOf("compare.csv");

        var rows = await GroupExporter.ExportAsync(_jobs.Store, group, variants, ExportFormat.Csv, path, _jobs.Options() with { ResponseColumn = "answer" });

        Assert.Equal(3, rows);
        var csv = Csv.Parse(await File.ReadAllTextAsync(path));
        Assert.Equal(
            ["question", "id",
             "answer [gpt-4o-mini]", "status [gpt-4o-mini]", "error [gpt-4o-mini]", "input_tokens [gpt-4o-mini]", "output_tokens [gpt-4o-mini]",
             "answer [claude-haiku-4-5]", "status [claude-haiku-4-5]", "error [claude-haiku-4-5]", "input_tokens [claude-haiku-4-5]", "output_tokens [claude-haiku-4-5]"],
            csv[0]);
        Assert.Equal(["Résumez le traitement par lot", "q-1", "# Réponse A1\n\nTexte **A1**.", "succeeded", "", "120", "80", "B1", "succeeded", "", "12", "4"], csv[1]);
        Assert.Equal(["Pourquoi 24 h ?", "q-2", "A2", "succeeded", "", "10", "2", "", "failed", "overloaded_error: Overloaded", "", ""], csv[2]);
        Assert.Equal(["列出三个要点", "q-3", "A3", "succeeded", "", "11", "3", "B3", "succeeded", "", "13", "5"], csv[3]);
    }

    [Fact]
    public void Columns_ANameTakenByTheInput_GetsASuffix()
    {
        var columns = GroupExporter.Columns(["text", "response [a]"], "response", ["a", "b"]);

        Assert.Equal(["text", "response [a]", "response [a]_2", "status [a]", "error [a]", "input_tokens [a]", "output_tokens [a]", "response [b]", "status [b]", "error [b]", "input_tokens [b]", "output_tokens [b]"], columns);
    }

    [Fact]
    public async Task Export_Jsonl_HasOneLinePerRow_WithAnObjectPerVariant()
    {
        var (group, variants) = await ComparisonAsync();
        var path = _jobs.Ws.PathOf("compare.jsonl");

        await GroupExporter.ExportAsync(_jobs.Store, group, variants, ExportFormat.Jsonl, path, _jobs.Options());

        var text = await File.ReadAllTextAsync(path);
        Assert.Contains("\"Résumez le traitement par lot\"", text, StringComparison.Ordinal);
        Assert.Contains("\"列出三个要点\"", text, StringComparison.Ordinal);
        var lines = (await File.ReadAllLinesAsync(path)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, lines.Count);
        var second = lines[1];
        Assert.Equal(("q-2", 3), (second.GetProperty("custom_id").GetString(), second.GetProperty("row").GetInt32()));
        Assert.Equal("Pourquoi 24 h ?", second.GetProperty("input").GetProperty("question").GetString());
        var v = second.GetProperty("variants");
        Assert.Equal(["gpt-4o-mini", "claude-haiku-4-5"], v.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("job-0000a1", "openai", "gpt-4o-mini", "succeeded", "A2"),
            (v.GetProperty("gpt-4o-mini").GetProperty("job_id").GetString(), v.GetProperty("gpt-4o-mini").GetProperty("provider").GetString(), v.GetProperty("gpt-4o-mini").GetProperty("model").GetString(),
             v.GetProperty("gpt-4o-mini").GetProperty("status").GetString(), v.GetProperty("gpt-4o-mini").GetProperty("response").GetString()));
        var claude = v.GetProperty("claude-haiku-4-5");
        Assert.Equal(("failed", JsonValueKind.Null, "overloaded_error"), (claude.GetProperty("status").GetString(), claude.GetProperty("response").ValueKind, claude.GetProperty("error").GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Export_Markdown_MatchesTheApprovedDocument()
    {
        var (group, variants) = await ComparisonAsync();
        var path = _jobs.Ws.PathOf("compare.md");

        var rows = await GroupExporter.ExportAsync(_jobs.Store, group, variants, ExportFormat.Markdown, path, _jobs.Options());

        Assert.Equal(3, rows);
        Approved.Verify(await File.ReadAllTextAsync(path), "comparison", ".md");
    }

    [Fact]
    public async Task Export_Docx_IsValidOpenXml_WithARowHeadingAndAVariantHeadingEach()
    {
        var (group, variants) = await ComparisonAsync();
        var path = _jobs.Ws.PathOf("compare.docx");

        await GroupExporter.ExportAsync(_jobs.Store, group, variants, ExportFormat.Docx, path, _jobs.Options());

        using var doc = WordprocessingDocument.Open(path, false);
        var errors = new OpenXmlValidator(FileFormatVersions.Office2019).Validate(doc).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Part?.Uri} {e.Path?.XPath}: {e.Description}")));
        var paragraphs = doc.MainDocumentPart!.Document.Body!.Descendants<Paragraph>().Select(p => (Style: p.ParagraphProperties?.ParagraphStyleId?.Val?.Value, Text: p.InnerText)).ToList();
        var outline = paragraphs.Where(p => p.Style is "Heading1" or "Heading2" or "Heading3").Select(p => p.Style + ": " + p.Text).ToList();
        Assert.Equal(
        [
            "Heading1: q-1 — Résumez le traitement par lot", "Heading2: gpt-4o-mini", "Heading3: Réponse A1", "Heading2: claude-haiku-4-5",
            "Heading1: q-2 — Pourquoi 24 h ?", "Heading2: gpt-4o-mini", "Heading2: claude-haiku-4-5",
            "Heading1: q-3 — 列出三个要点", "Heading2: gpt-4o-mini", "Heading2: claude-haiku-4-5",
        ], outline);
        Assert.Contains(paragraphs, p => p.Style == "ItemError" && p.Text == "Status: failed — overloaded_error: Overloaded");
        Assert.Equal("grp-c0ffee", doc.PackageProperties.Subject);
    }

    [Theory]
    [InlineData(ExportFormat.Xlsx, false, "--out")]
    [InlineData(ExportFormat.Provider, false, "--out")]
    [InlineData(ExportFormat.Markdown, true, "--split")]
    public async Task Export_AFormatAComparisonCannotTake_IsRefused_AndNothingIsWritten(ExportFormat format, bool split, string field)
    {
        var (group, variants) = await ComparisonAsync();
        var path = _jobs.Ws.PathOf("compare.out");

        var ex = await Assert.ThrowsAsync<InputException>(() => GroupExporter.ExportAsync(_jobs.Store, group, variants, format, path, _jobs.Options(split: split)));

        Assert.Equal(field, ex.Field);
        Assert.False(File.Exists(path));
        Assert.False(Directory.Exists(path));
    }
}
