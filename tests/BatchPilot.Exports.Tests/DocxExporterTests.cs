using System.Diagnostics;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.CustomProperties;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Validation;
using DocumentFormat.OpenXml.Wordprocessing;

namespace BatchPilot.Exports.Tests;

public sealed class DocxExporterTests : IDisposable
{
    private readonly ExportJobs _jobs = new();

    public void Dispose() => _jobs.Dispose();

    [Fact]
    public async Task Export_Docx_IsValidOpenXml()
    {
        var job = await _jobs.SampleAsync();
        var path = _jobs.Ws.PathOf("export.docx");

        var rows = await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Docx, path, _jobs.Options());

        Assert.Equal(3, rows);
        using var doc = WordprocessingDocument.Open(path, false);
        var errors = new OpenXmlValidator(FileFormatVersions.Office2019).Validate(doc).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Part?.Uri} {e.Path?.XPath}: {e.Description}")));
    }

    [Fact]
    public async Task Export_Docx_RendersTheAnswersMarkdownAsWordStyles()
    {
        var job = await _jobs.SampleAsync();
        var path = _jobs.Ws.PathOf("export.docx");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Docx, path, _jobs.Options());

        using var doc = WordprocessingDocument.Open(path, false);
        var body = doc.MainDocumentPart!.Document.Body!;
        var paragraphs = body.Descendants<Paragraph>().Select(p => (Style: p.ParagraphProperties?.ParagraphStyleId?.Val?.Value, Text: p.InnerText, P: p)).ToList();

        // Item titles are Heading1; the answer's headings moved one level down.
        Assert.Equal(["q-1 — Résumez le traitement par lot", "q-2 — Pourquoi 24 h ? Détails", "q-3 — 列出三个要点"], paragraphs.Where(p => p.Style == "Heading1").Select(p => p.Text));
        Assert.Contains(("Heading2", "Résumé du lot"), paragraphs.Select(p => (p.Style, p.Text)));
        Assert.Contains(("Heading3", "Avantages"), paragraphs.Select(p => (p.Style, p.Text)));
        Assert.Contains(("Heading2", "要点摘要"), paragraphs.Select(p => (p.Style, p.Text)));

        // Bold, italic, strikethrough and inline code are runs with those properties.
        var runs = body.Descendants<Run>().ToList();
        Assert.Contains(runs, r => r.InnerText == "économique" && r.RunProperties?.Bold is not null);
        Assert.Contains(runs, r => r.InnerText == "robuste" && r.RunProperties?.Italic is not null);
        Assert.Contains(runs, r => r.InnerText == "barré" && r.RunProperties?.Strike is not null);
        Assert.Contains(runs, r => r.InnerText == "batchpilot run" && r.RunProperties?.RunStyle?.Val == "CodeChar");

        // Lists: bullets on level 0, the nested ordered list on level 1 with its own restarting instance.
        var first = paragraphs.Single(p => p.Text == "premier élément").P.ParagraphProperties!.NumberingProperties!;
        Assert.Equal((0, 1), (first.NumberingLevelReference!.Val!.Value, first.NumberingId!.Val!.Value));
        var nested = paragraphs.Single(p => p.Text == "sous-point deux").P.ParagraphProperties!.NumberingProperties!;
        Assert.Equal(1, nested.NumberingLevelReference!.Val!.Value);
        var third = paragraphs.Single(p => p.Text.StartsWith("第三点", StringComparison.Ordinal)).P.ParagraphProperties!.NumberingProperties!;
        var instance = doc.MainDocumentPart.NumberingDefinitionsPart!.Numbering.Elements<NumberingInstance>().Single(n => n.NumberID!.Value == third.NumberingId!.Val!.Value);
        Assert.Equal(3, instance.GetFirstChild<LevelOverride>()!.StartOverrideNumberingValue!.Val!.Value);

        // Table with the header row, code block, quote, rule.
        var table = body.Elements<Table>().Last();
        Assert.Equal(["Colonne", "Valeur", "café", "3,50 €", "thé", "2 €"], table.Descendants<TableCell>().Select(c => c.InnerText));
        Assert.NotNull(table.GetFirstChild<TableRow>()!.TableRowProperties!.GetFirstChild<TableHeader>());
        Assert.Contains(paragraphs, p => p.Style == "Code" && p.Text.Contains("print(\"bonjour\")", StringComparison.Ordinal) && p.P.Descendants<TabChar>().Any());
        Assert.Contains(paragraphs, p => p.Style == "Quote" && p.Text.StartsWith("Une citation", StringComparison.Ordinal));
        Assert.Contains(paragraphs, p => p.P.ParagraphProperties?.ParagraphBorders?.BottomBorder is not null);

        // Links: one relationship per distinct absolute target; relative and script links stay text.
        var links = doc.MainDocumentPart.HyperlinkRelationships.Select(r => r.Uri.AbsoluteUri).ToList();
        Assert.Equal(["https://platform.openai.com/docs/guides/batch", "https://example.com/a?b=1&c=2"], links);
        Assert.Equal(3, body.Descendants<Hyperlink>().Count());
        Assert.Contains(runs, r => r.InnerText == "相对链接" && r.RunProperties is null);
        Assert.Contains(runs, r => r.InnerText == "脚本" && r.RunProperties is null);

        // The failed item shows its status and error; the control character became U+FFFD.
        Assert.Contains(paragraphs, p => p.Style == "ItemError" && p.Text == "Status: failed — context_length_exceeded: This model's maximum context length is 128000 tokens | <b>trop long</b>");
        Assert.Contains(paragraphs, p => p.Text.StartsWith("控制字符\uFFFD在这里", StringComparison.Ordinal));
        Assert.Contains(paragraphs, p => p.Style == "Code" && p.Text == "未闭合的代码块");
    }

    [Fact]
    public async Task Export_Docx_CarriesTheMetadataInPropertiesHeaderBlockAndPageHeader()
    {
        var job = await _jobs.SampleAsync();
        var path = _jobs.Ws.PathOf("export.docx");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Docx, path, _jobs.Options(title: "Guide du traitement par lot"));

        using var doc = WordprocessingDocument.Open(path, false);
        var p = doc.PackageProperties;
        Assert.Equal(("Guide du traitement par lot", "BatchPilot", "job-5e7c1a", "batch_6a1f0c2e9d batch_77c0ffee01"), (p.Title, p.Creator, p.Subject, p.Keywords));
        Assert.Equal(ExportJobs.Start.UtcDateTime, p.Created);
        Assert.Equal(new DateTime(2025, 3, 14, 10, 51, 0, DateTimeKind.Utc), p.Modified);
        var custom = doc.CustomFilePropertiesPart!.Properties.Elements<CustomDocumentProperty>().ToDictionary(c => c.Name!.Value!, c => c.InnerText);
        Assert.Equal("job-5e7c1a", custom["BatchPilot.JobId"]);
        Assert.Equal("gpt-4o-mini", custom["BatchPilot.Model"]);
        Assert.Equal("openai", custom["BatchPilot.Provider"]);
        Assert.Equal("batch_6a1f0c2e9d batch_77c0ffee01", custom["BatchPilot.BatchIds"]);
        Assert.Equal("2025-03-14T10:51:00Z", custom["BatchPilot.CompletedAt"]);
        Assert.Equal(("1288", "1024", "460"), (custom["BatchPilot.InputTokens"], custom["BatchPilot.CachedTokens"], custom["BatchPilot.OutputTokens"]));

        var body = doc.MainDocumentPart!.Document.Body!;
        var title = body.Elements<Paragraph>().First();
        Assert.Equal(("Title", "Guide du traitement par lot"), (title.ParagraphProperties!.ParagraphStyleId!.Val!.Value, title.InnerText));
        var block = body.Elements<Table>().First().Elements<TableRow>().ToDictionary(r => r.Elements<TableCell>().First().InnerText, r => r.Elements<TableCell>().Last().InnerText);
        Assert.Equal("job-5e7c1a (avis-clients)", block["Job"]);
        Assert.Equal("batch_6a1f0c2e9d, batch_77c0ffee01", block["Batches"]);
        Assert.Equal("2025-03-14T09:26:53Z", block["Created"]);
        Assert.Equal("3 items: 2 succeeded, 1 failed", block["Items"]);
        Assert.Equal("1,288 input (1,024 cached), 460 output", block["Tokens"]);
        Assert.Contains(body.Elements<Paragraph>(), x => x.InnerText == "Batch: batch_77c0ffee01 · Attempt: 1 · Tokens: 88 input, 120 output · Source row: 4");
        var pageHeader = doc.MainDocumentPart.HeaderParts.Single().Header.InnerText;
        Assert.Equal("BatchPilot · job-5e7c1a · batch_6a1f0c2e9d, batch_77c0ffee01 · exported 2025-03-14T10:51:00Z", pageHeader);
    }

    [Fact]
    public async Task Export_Docx_BeyondTheLinkBound_UsesHyperlinkFields_AndStaysValid()
    {
        var count = WordLinks.MaxRelationships + 5;
        var job = await _jobs.CreateAsync("job-links1", ["q"], null, Enumerable.Range(1, count).Select(i => ("row-" + i, new string?[] { "q" + i })).ToList());
        var batch = await _jobs.SubmitAsync(job.Id, Enumerable.Range(1, count).Select(i => (long)i).ToList(), "batch_links");
        await _jobs.CollectAsync(batch, Enumerable.Range(1, count).Select(i => ExportJobs.Ok("row-" + i, $"See [page {i}](https://example.com/p/{i}) and [home](https://example.com/).")).ToList());
        var path = _jobs.Ws.PathOf("links.docx");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Docx, path, _jobs.Options());

        using var doc = WordprocessingDocument.Open(path, false);
        Assert.Equal(WordLinks.MaxRelationships, doc.MainDocumentPart!.HyperlinkRelationships.Count());
        var fields = doc.MainDocumentPart.Document.Body!.Descendants<SimpleField>().ToList();
        Assert.Equal(6, fields.Count);
        Assert.Equal(" HYPERLINK \"https://example.com/p/10005\" ", fields[^1].Instruction!.Value);
        Assert.Empty(new OpenXmlValidator(FileFormatVersions.Office2019).Validate(doc));
    }

    [Fact]
    public async Task Export_Docx_AbsurdNesting_IsWrittenAsPlainText_AndStaysValid()
    {
        // Given answers nested far deeper than any real one (the renderer recurses; answers are untrusted)
        var quotes = string.Concat(Enumerable.Repeat("> ", 3000)) + "au fond des citations";
        var lists = string.Concat(Enumerable.Range(0, 400).Select(i => new string(' ', i * 2) + "- niveau " + i + "\n"));
        var emphasis = string.Concat(Enumerable.Repeat("*a ", 2000)) + "texte" + string.Concat(Enumerable.Repeat(" a*", 2000));
        var links = string.Concat(Enumerable.Repeat("[", 3000)) + "lien" + string.Concat(Enumerable.Repeat("](https://example.com/)", 3000));
        var answers = new[] { quotes, lists, emphasis, links };
        var job = await _jobs.CreateAsync("job-deep01", ["q"], null, answers.Select((_, i) => ("row-" + (i + 1), new string?[] { "q" })).ToList());
        var batch = await _jobs.SubmitAsync(job.Id, [1, 2, 3, 4], "batch_deep");
        await _jobs.CollectAsync(batch, answers.Select((a, i) => ExportJobs.Ok("row-" + (i + 1), a)).ToList());
        var path = _jobs.Ws.PathOf("deep.docx");

        // When it is exported
        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Docx, path, _jobs.Options());

        // Then the text is there and the document is valid
        using var doc = WordprocessingDocument.Open(path, false);
        var text = doc.MainDocumentPart!.Document.Body!.InnerText;
        Assert.Contains("au fond des citations", text, StringComparison.Ordinal);
        Assert.Contains("niveau 399", text, StringComparison.Ordinal);
        Assert.Contains("texte", text, StringComparison.Ordinal);
        Assert.Contains("lien", text, StringComparison.Ordinal);
        Assert.Empty(new OpenXmlValidator(FileFormatVersions.Office2019).Validate(doc));
    }

    [Theory]
    [InlineData(ExportFormat.Markdown)]
    [InlineData(ExportFormat.Docx)]
    [InlineData(ExportFormat.Xlsx)]
    public async Task Export_AJobWithoutItems_WritesADocumentWithItsHeader(ExportFormat format)
    {
        var job = await _jobs.CreateAsync("job-empty1", ["q"], null, []);
        var path = _jobs.Ws.PathOf("empty" + JobExporter.ExtensionOf(format));

        var rows = await JobExporter.ExportAsync(_jobs.Store, job, format, path, _jobs.Options());

        Assert.Equal(0, rows);
        if (format == ExportFormat.Markdown)
        {
            Assert.Contains("| Items | 0 items |", await File.ReadAllTextAsync(path), StringComparison.Ordinal);
            return;
        }

        using OpenXmlPackage doc = format == ExportFormat.Docx ? WordprocessingDocument.Open(path, false) : DocumentFormat.OpenXml.Packaging.SpreadsheetDocument.Open(path, false);
        Assert.Empty(new OpenXmlValidator(FileFormatVersions.Office2019).Validate(doc));
        Assert.Equal("job-empty1", doc.PackageProperties.Subject);
    }

    [Fact]
    public async Task Export_Docx_OpensInLibreOffice_AndThePdfHasTheText()
    {
        // Given LibreOffice (CI installs it: see the report of the exports issue for the apt line)
        var soffice = Which("soffice") ?? Which("libreoffice");
        var pdftotext = Which("pdftotext");
        if (soffice is null || pdftotext is null)
        {
            Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
                "LibreOffice (soffice) and pdftotext must be installed in CI: apt-get install -y --no-install-recommends libreoffice-writer-nogui poppler-utils fonts-wqy-zenhei");
            Console.Error.WriteLine("SKIPPED Export_Docx_OpensInLibreOffice_AndThePdfHasTheText: soffice or pdftotext is not installed (CI=true makes this a failure).");
            return;
        }

        var job = await _jobs.SampleAsync();
        var docx = _jobs.Ws.PathOf("export.docx");
        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Docx, docx, _jobs.Options());

        // When LibreOffice converts it to PDF (a private profile, so parallel runs do not share one)
        var profile = new Uri(_jobs.Ws.PathOf("lo-profile")).AbsoluteUri;
        var convert = await RunAsync(soffice, ["-env:UserInstallation=" + profile, "--headless", "--norestore", "--convert-to", "pdf", "--outdir", _jobs.Ws.Root, docx], TimeSpan.FromMinutes(3));
        var pdf = _jobs.Ws.PathOf("export.pdf");
        Assert.True(File.Exists(pdf), $"soffice exit {convert.Exit}: {convert.Output}");
        var text = (await RunAsync(pdftotext, ["-enc", "UTF-8", pdf, "-"], TimeSpan.FromMinutes(1))).Output;

        // Then the PDF holds the headings, list items, table cells, the error and the Chinese text
        foreach (var expected in new[]
        {
            "avis-clients", "job-5e7c1a", "batch_6a1f0c2e9d", "q-1 — Résumez le traitement par lot", "Résumé du lot", "Avantages",
            "premier élément", "sous-point deux", "café", "3,50 €", "print(\"bonjour\")", "context_length_exceeded",
            "中文测试", "批处理结果已导出", "第三点", "要点摘要",
        })
        {
            Assert.True(text.Contains(expected, StringComparison.Ordinal), $"'{expected}' is missing from the PDF text:\n{text}");
        }

        // LibreOffice numbers the ordered list from 3 as the document asks.
        Assert.Matches(@"3\.\s*第三点", text);
    }

    private static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static async Task<(int Exit, string Output)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout}");
        }

        return (p.ExitCode, await stdout + await stderr);
    }
}
