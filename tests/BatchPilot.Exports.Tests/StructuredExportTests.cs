using System.IO.Compression;
using System.Text.Json;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Providers;
using BatchPilot.Testing;
using DocumentFormat.OpenXml.Packaging;

namespace BatchPilot.Exports.Tests;

/// <summary>Jobs with a --json-schema: the answers' fields spread into columns (csv, xlsx), parsed (jsonl), a field table (md, docx); skipped images keep their row.</summary>
public sealed class StructuredExportTests : IDisposable
{
    private const string Schema = """{"type":"object","properties":{"légende":{"type":"string"},"score":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},"meta":{"type":["object","null"],"properties":{"lang":{"type":"string"}},"required":["lang"],"additionalProperties":false},"status":{"type":"string"}},"required":["légende","score","tags","meta","status"],"additionalProperties":false}""";

    private readonly ExportJobs _jobs = new();

    public void Dispose() => _jobs.Dispose();

    private async Task<JobRecord> JobAsync()
    {
        var job = await _jobs.CreateAsync("job-5c4e3a", ["Image Path", "Content of P*"], null,
        [
            ("row-1", ["img/chat.png", "Décris l'image en français"]),
            ("row-2", ["img/狗.jpg", "请描述这张图片"]),
            ("row-3", ["img/x.png", "Une autre"]),
            ("row-4", ["img/missing.png", "Où est l'image ?"]),
        ], configure: s => s with { JsonSchema = Schema, JsonSchemaName = "legende", ImageColumns = ["Image Path"], ImageFolders = ["/data"], SkipMissingImages = true });
        await _jobs.Store.EndPendingItemsAsync(job.Id,
            [new ResultLine { CustomId = "row-4", Kind = ResultKind.Cancelled, ErrorCode = ImageProblem.SkippedCode, ErrorMessage = "skipped (--skip-missing-images): image file not found: 'img/missing.png' (row 5, column 'Image Path')" }],
            "1 item(s) skipped before sending because of their image.");
        var batch = await _jobs.SubmitAsync(job.Id, [1, 2, 3], "batch_5c4e3a0001");
        await _jobs.CollectAsync(batch,
        [
            ExportJobs.Ok("row-1", """{"légende":"Un chat | roux","score":4,"tags":["chat","roux"],"meta":{"lang":"fr"},"status":"ok"}"""),
            ExportJobs.Ok("row-2", """{"légende":"一只狗\n在草地上","score":5,"tags":[],"meta":null,"status":"ok"}"""),
            new ResultLine { CustomId = "row-3", Kind = ResultKind.Failed, Text = """{"légende":"?"}""", ErrorCode = AnswerSchema.ValidationFailedCode, ErrorMessage = "the answer does not match the schema: the answer: Required properties [\"score\"] are not present" },
        ]);
        return await _jobs.FinishAsync(job.Id);
    }

    [Fact]
    public async Task Export_Csv_OneColumnPerTopLevelProperty_NestedAsCompactJson_ClashesRenamed()
    {
        var job = await JobAsync();
        var path = _jobs.Ws.PathOf("out.csv");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Csv, path, _jobs.Options());

        var rows = Csv.Parse(await File.ReadAllTextAsync(path));
        Assert.Equal(["Image Path", "Content of P*", "response", "légende", "score", "tags", "meta", "status_2", "status", "error", "input_tokens", "output_tokens", "cost_usd"], rows[0]);
        Assert.Equal(["Un chat | roux", "4", "[\"chat\",\"roux\"]", "{\"lang\":\"fr\"}", "ok", "succeeded"], rows[1][3..9]);
        Assert.Equal(["一只狗\n在草地上", "5", "[]", "", "ok", "succeeded"], rows[2][3..9]);
        Assert.Equal(["?", "", "", "", "", "failed"], rows[3][3..9]);
        Assert.Equal(["img/missing.png", "skipped"], [rows[4][0], rows[4][8]]);
        Assert.StartsWith("image_skipped: skipped (--skip-missing-images): image file not found: 'img/missing.png'", rows[4][9], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_Jsonl_CarriesTheParsedOutputObject()
    {
        var job = await JobAsync();
        var path = _jobs.Ws.PathOf("out.jsonl");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Jsonl, path, _jobs.Options());

        var lines = (await File.ReadAllLinesAsync(path)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(4, lines.Count);
        Assert.Equal("Un chat | roux", lines[0].GetProperty("output").GetProperty("légende").GetString());
        Assert.Equal(5, lines[1].GetProperty("output").GetProperty("score").GetInt32());
        Assert.Equal(JsonValueKind.Null, lines[2].GetProperty("output").ValueKind);
        Assert.Equal("skipped", lines[3].GetProperty("status").GetString());
        Assert.Equal("image_skipped", lines[3].GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Export_Xlsx_SpreadsTheFieldsAfterTheResponse()
    {
        var job = await JobAsync();
        var path = _jobs.Ws.PathOf("out.xlsx");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Xlsx, path, _jobs.Options());

        using var doc = SpreadsheetDocument.Open(path, false);
        var items = XlsxExporterTests.Sheets(doc)["Items"];
        Assert.Equal(["custom_id", "Image Path", "Content of P*", "response", "légende", "score", "tags", "meta", "status_2", "status", "error", "input_tokens", "output_tokens", "cost_usd", "batch_id", "attempt"], items[0]);
        Assert.Equal(["row-2", "一只狗\n在草地上", "5", "succeeded"], [items[2][0], items[2][4], items[2][5], items[2][9]]);
        Assert.Equal("skipped", items[4][9]);
    }

    [Fact]
    public async Task Export_Markdown_RendersAnswersAsAFieldTable()
    {
        var job = await JobAsync();
        var path = _jobs.Ws.PathOf("out.md");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Markdown, path, _jobs.Options());

        Approved.Verify(await File.ReadAllTextAsync(path), "structured-job", ".md");
    }

    [Fact]
    public async Task Export_Docx_RendersAnswersAsATable()
    {
        var job = await JobAsync();
        var path = _jobs.Ws.PathOf("out.docx");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Docx, path, _jobs.Options());

        using var zip = ZipFile.OpenRead(path);
        using var reader = new StreamReader(zip.GetEntry("word/document.xml")!.Open());
        var xml = await reader.ReadToEndAsync();
        // The header table, then one field table per answer.
        Assert.Equal(3, xml.Split("<w:tbl>").Length - 1);
        Assert.Contains("<w:t xml:space=\"preserve\">légende</w:t>", xml, StringComparison.Ordinal);
        Assert.Contains("<w:t xml:space=\"preserve\">Un chat </w:t></w:r><w:r><w:t xml:space=\"preserve\">| roux</w:t>", xml, StringComparison.Ordinal);
        Assert.Contains("一只狗", xml, StringComparison.Ordinal);
    }
}
