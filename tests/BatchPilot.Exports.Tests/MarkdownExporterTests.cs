using BatchPilot.Errors;
using Markdig;
using Markdig.Syntax;

namespace BatchPilot.Exports.Tests;

public sealed class MarkdownExporterTests : IDisposable
{
    private readonly ExportJobs _jobs = new();

    public void Dispose() => _jobs.Dispose();

    [Fact]
    public async Task Export_Markdown_MatchesTheApprovedDocument()
    {
        // Given the sample job: a rich answer, a failed item, a Chinese answer, two provider batches
        var job = await _jobs.SampleAsync();
        var path = _jobs.Ws.PathOf("export.md");

        // When it is exported as one Markdown document
        var rows = await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, path, _jobs.Options());

        // Then the document is exactly the approved one (front matter, header table, one section per item)
        Assert.Equal(3, rows);
        Approved.Verify(await File.ReadAllTextAsync(path), "sample-job", ".md");
    }

    [Fact]
    public async Task Export_Markdown_IsValidCommonMark_WithOneSectionPerItem_AndAnswersHeadingsBelowIt()
    {
        var job = await _jobs.SampleAsync();
        var path = _jobs.Ws.PathOf("export.md");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, path, _jobs.Options(title: "Guide du lot"));

        var text = await File.ReadAllTextAsync(path);
        var doc = Markdig.Markdown.Parse(text, new Markdig.MarkdownPipelineBuilder().UsePipeTables().UseYamlFrontMatter().Build());
        var headings = doc.Descendants<Markdig.Syntax.HeadingBlock>().Select(h => (h.Level, Inline: Plain(h.Inline))).ToList();
        Assert.Equal((1, "Guide du lot"), headings[0]);
        Assert.Equal(["q-1 — Résumez le traitement par lot", "q-2 — Pourquoi 24 h ? Détails", "q-3 — 列出三个要点"], headings.Where(h => h.Level == 2).Select(h => h.Inline));
        Assert.Contains((3, "Résumé du lot"), headings);
        Assert.Contains((4, "Avantages"), headings);
        Assert.Contains((3, "要点摘要"), headings);
        Assert.StartsWith("---\ntitle: \"Guide du lot\"\n", text, StringComparison.Ordinal);
        Assert.Contains("batch_ids:\n  - \"batch_6a1f0c2e9d\"\n  - \"batch_77c0ffee01\"\n", text, StringComparison.Ordinal);

        // The unclosed fence of q-3 was closed: nothing after it is code.
        Assert.Single(doc.Descendants<Markdig.Syntax.FencedCodeBlock>(), c => c.Lines.ToString().Contains("未闭合的代码块", StringComparison.Ordinal));
        Assert.DoesNotContain(doc.Descendants<Markdig.Syntax.FencedCodeBlock>(), c => c.Lines.ToString().Contains("Batch:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Export_MarkdownSplit_WritesOneFilePerItemWithFrontMatter_AndAnIndex()
    {
        var job = await _jobs.SampleAsync();
        var dir = _jobs.Ws.PathOf("out/answers");
        Directory.CreateDirectory(_jobs.Ws.PathOf("out"));

        var rows = await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, dir, _jobs.Options(split: true));

        Assert.Equal(3, rows);
        Assert.Equal([".batchpilot-export", "_index.md", "q-1.md", "q-2.md", "q-3.md"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var q1 = await File.ReadAllTextAsync(Path.Combine(dir, "q-1.md"));
        Approved.Verify(q1, "sample-job-split-q-1", ".md");
        var q2 = await File.ReadAllTextAsync(Path.Combine(dir, "q-2.md"));
        Assert.Contains("error_code: \"context_length_exceeded\"\n", q2, StringComparison.Ordinal);
        Assert.Contains("batch_id: \"batch_6a1f0c2e9d\"\n", q2, StringComparison.Ordinal);
        Assert.Contains("**Status:** failed — `context_length_exceeded`: This model's maximum context length is 128000 tokens \\| \\<b\\>trop long\\</b\\>", q2, StringComparison.Ordinal);
        var index = await File.ReadAllTextAsync(Path.Combine(dir, "_index.md"));
        Assert.Contains("| [q-3 — 列出三个要点](<q-3.md>) | succeeded | `batch_77c0ffee01` | 88 / 120 |", index, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_jobs.Ws.PathOf("out"), ".answers.*"));
    }

    [Fact]
    public async Task Export_MarkdownSplit_AgainReplacesTheWholeEarlierSet()
    {
        var job = await _jobs.SampleAsync();
        var dir = _jobs.Ws.PathOf("answers");
        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, dir, _jobs.Options(split: true));
        await File.WriteAllTextAsync(Path.Combine(dir, "stale.md"), "from an earlier export");

        _jobs.Time.Advance(TimeSpan.FromHours(1));
        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, dir, _jobs.Options(split: true));

        Assert.False(File.Exists(Path.Combine(dir, "stale.md")));
        Assert.Contains("exported_at: \"2025-03-14T11:51:00Z\"", await File.ReadAllTextAsync(Path.Combine(dir, "q-1.md")), StringComparison.Ordinal);
        Assert.Single(Directory.GetDirectories(_jobs.Ws.Root));
    }

    [Fact]
    public async Task Export_MarkdownSplit_IntoAFolderThatIsNotAnExport_IsRefusedAndTouchesNothing()
    {
        var job = await _jobs.SampleAsync();
        var dir = _jobs.Ws.PathOf("documents");
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "thesis.md"), "precious");

        var ex = await Assert.ThrowsAsync<InputException>(() => JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, dir, _jobs.Options(split: true)));

        Assert.Equal("the output folder is not empty and holds no earlier export", ex.Message);
        Assert.Equal("choose a new or empty folder: an export replaces its whole folder", ex.Hint);
        Assert.Equal(["thesis.md"], Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Export_MarkdownSplit_OntoAFile_IsAUserError()
    {
        var job = await _jobs.SampleAsync();
        var file = _jobs.Ws.Write("answers.md", "x");

        var ex = await Assert.ThrowsAsync<InputException>(() => JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, file, _jobs.Options(split: true)));

        Assert.Equal("the output path is a file, but --split writes a folder", ex.Message);
    }

    [Theory]
    [InlineData(ExportFormat.Docx)]
    [InlineData(ExportFormat.Csv)]
    public async Task Export_SplitWithAnotherFormat_IsAUserError(ExportFormat format)
    {
        var job = await _jobs.SampleAsync();

        var ex = await Assert.ThrowsAsync<InputException>(() => JobExporter.ExportAsync(_jobs.Store, job, format, _jobs.Ws.PathOf("x"), _jobs.Options(split: true)));

        Assert.Equal(("--split writes one Markdown file per item", "--split"), (ex.Message, ex.Field));
    }

    [Fact]
    public async Task Export_MarkdownSplit_FileNamesAreSafe_AndCollisionsGetASuffix()
    {
        // Given custom ids that are not file names as they are, or collide once made safe
        var job = await _jobs.CreateAsync("job-names1", ["text"], null,
        [
            ("a/b", ["one"]), ("a_b", ["two"]), ("CON", ["three"]), ("..", ["four"]), ("été-1", ["five"]),
        ]);
        var dir = _jobs.Ws.PathOf("names");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, dir, _jobs.Options(split: true));

        Assert.Equal(["_.md", "_CON.md", "_index.md", "a_b.md", "a_b~2.md", "été-1.md"], Directory.GetFiles(dir, "*.md").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains("custom_id: \"a_b\"", await File.ReadAllTextAsync(Path.Combine(dir, "a_b~2.md")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_Cancelled_LeavesNoFileAndNoTemporary()
    {
        var job = await _jobs.SampleAsync();
        using var cts = new CancellationTokenSource();
        var path = _jobs.Ws.PathOf("big.md");
        var dir = _jobs.Ws.PathOf("big");
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, path, _jobs.Options(), cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, dir, _jobs.Options(split: true), cts.Token));

        Assert.Equal(["store.db"], Directory.GetFileSystemEntries(_jobs.Ws.Root).Select(Path.GetFileName).Where(n => !n!.StartsWith("store.db-", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("# Titre\n\ntexte", 2, "### Titre\n\ntexte")]
    [InlineData("###### Six", 2, "###### Six")]
    [InlineData("Titre\n===\n\ntexte", 1, "## Titre\n\ntexte")]
    [InlineData("> # Cité", 1, "> ## Cité")]
    [InlineData("```js\nlet a;\n", 2, "```js\nlet a;\n```")]
    [InlineData("~~~~\nlet a;", 2, "~~~~\nlet a;\n~~~~")]
    [InlineData("<!-- note\nsuite", 2, "<!-- note\nsuite\n-->")]
    [InlineData("- liste\n- simple", 2, "- liste\n- simple")]
    [InlineData("Réponse avec `code`, l'article #3, a < b et ~ 5 %.", 2, "Réponse avec `code`, l'article #3, a < b et ~ 5 %.")]
    [InlineData("1. # Titre", 1, "1. ## Titre")]
    [InlineData("- > # Cité", 1, "- > ## Cité")]
    [InlineData("* liste\n  12) ```py\n  print()", 1, "* liste\n  12) ```py\n  print()")]
    public void Contain_ShiftsHeadingsAndClosesOpenBlocks(string answer, int shift, string expected)
    {
        Assert.Equal(expected, MarkdownBody.Contain(answer, shift));
    }

    [Fact]
    public void Contain_AnAnswerNestedPastTheParsersLimit_BecomesACodeBlock()
    {
        var answer = string.Concat(Enumerable.Repeat("> ", 3000)) + "```fond";

        var contained = MarkdownBody.Contain(answer, 2);

        Assert.Equal("````text\n" + answer + "\n````", contained);
    }

    private static string Plain(Markdig.Syntax.Inlines.ContainerInline? inline) =>
        inline is null ? string.Empty : string.Concat(inline.Descendants<Markdig.Syntax.Inlines.LiteralInline>().Select(l => l.Content.ToString()));
}
