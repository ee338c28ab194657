using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using DocumentFormat.OpenXml.Validation;

namespace BatchPilot.Exports.Tests;

public sealed class XlsxExporterTests : IDisposable
{
    private readonly ExportJobs _jobs = new();

    public void Dispose() => _jobs.Dispose();

    [Fact]
    public async Task Export_Xlsx_IsValid_WithAnItemsSheetAndAJobSheet()
    {
        var job = await _jobs.SampleAsync();
        var path = _jobs.Ws.PathOf("export.xlsx");

        var rows = await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Xlsx, path, _jobs.Options());

        Assert.Equal(3, rows);
        using var doc = SpreadsheetDocument.Open(path, false);
        var errors = new OpenXmlValidator(FileFormatVersions.Office2019).Validate(doc).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Part?.Uri} {e.Path?.XPath}: {e.Description}")));
        var sheets = Sheets(doc);
        Assert.Equal(["Items", "Job"], sheets.Keys);
        var items = sheets["Items"];
        Assert.Equal(["custom_id", "question", "id", "response", "status", "error", "input_tokens", "output_tokens", "cost_usd", "batch_id", "attempt"], items[0]);
        Assert.Equal(["q-2", "Pourquoi 24 h ?\nDétails", "q-2", "", "failed", "context_length_exceeded: This model's maximum context length is 128000 tokens | <b>trop long</b>", "", "", "", "batch_6a1f0c2e9d", "1"], items[2]);
        Assert.Equal(("q-3", "列出三个要点", "88", "batch_77c0ffee01"), (items[3][0], items[3][1], items[3][6], items[3][9]));

        // 88 input and 120 output tokens of gpt-4o-mini at Batch API prices (0.075 and 0.30 USD per 1M)
        Assert.Equal("0.0000426", items[3][8]);
        Assert.StartsWith("要点摘要\n====\n\n3. 第三点", items[3][3], StringComparison.Ordinal);
        var meta = sheets["Job"].Skip(1).ToDictionary(r => r[0], r => r[1]);
        Assert.Equal(("job-5e7c1a", "batch_6a1f0c2e9d batch_77c0ffee01", "1288", "2025-03-14T10:51:00Z"), (meta["job_id"], meta["batch_ids"], meta["input_tokens"], meta["completed_at"]));
        Assert.Equal(("avis-clients", "BatchPilot", "job-5e7c1a"), (doc.PackageProperties.Title, doc.PackageProperties.Creator, doc.PackageProperties.Subject));
    }

    [Fact]
    public async Task Export_Xlsx_PastTheSheetRowLimit_ContinuesOnANewSheet()
    {
        var job = await _jobs.LargeAsync("job-sheets", 25);
        var path = _jobs.Ws.PathOf("rows.xlsx");

        using (XlsxExporter.UseRowsPerSheet(10))
        {
            await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Xlsx, path, _jobs.Options());
        }

        using var doc = SpreadsheetDocument.Open(path, false);
        var sheets = Sheets(doc);
        Assert.Equal(["Items", "Items (2)", "Items (3)", "Job"], sheets.Keys);
        Assert.Equal([11, 11, 6], sheets.Values.Take(3).Select(s => s.Count));
        Assert.Equal("row-21", sheets["Items (3)"][1][0]);
        Assert.Empty(new OpenXmlValidator(FileFormatVersions.Office2019).Validate(doc));
    }

    [Fact]
    public async Task Export_Xlsx_ALongAnswerIsCutToExcelsCellLimit()
    {
        var job = await _jobs.CreateAsync("job-long01", ["q"], null, [("row-1", ["q"])]);
        var batch = await _jobs.SubmitAsync(job.Id, [1], "batch_long");
        await _jobs.CollectAsync(batch, [ExportJobs.Ok("row-1", new string('é', 40_000))]);
        var path = _jobs.Ws.PathOf("long.xlsx");

        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Xlsx, path, _jobs.Options());

        using var doc = SpreadsheetDocument.Open(path, false);
        var cell = Sheets(doc)["Items"][1][2];
        Assert.Equal(XlsxExporter.MaxCellText, cell.Length);
        Assert.EndsWith(" […cut: 40000 characters, Excel holds 32767]", cell, StringComparison.Ordinal);
    }

    /// <summary>Sheets by name, each as rows of cell texts (inline strings and numbers; empty cells as "").</summary>
    internal static Dictionary<string, List<string[]>> Sheets(SpreadsheetDocument doc)
    {
        var result = new Dictionary<string, List<string[]>>();
        var wb = doc.WorkbookPart!;
        foreach (var sheet in wb.Workbook.Sheets!.Elements<Sheet>())
        {
            var part = (WorksheetPart)wb.GetPartById(sheet.Id!.Value!);
            var rows = new List<string[]>();
            foreach (var row in part.Worksheet.Descendants<Row>())
            {
                var cells = row.Elements<Cell>().ToList();
                var width = cells.Count == 0 ? 0 : cells.Max(c => Column(c.CellReference!.Value!)) + 1;
                var values = Enumerable.Repeat(string.Empty, Math.Max(width, rows.Count > 0 ? rows[0].Length : 0)).ToArray();
                foreach (var c in cells)
                {
                    values[Column(c.CellReference!.Value!)] = c.DataType?.Value == CellValues.InlineString ? c.InlineString!.InnerText : c.CellValue!.Text;
                }

                rows.Add(values);
            }

            result[sheet.Name!.Value!] = rows;
        }

        return result;
    }

    private static int Column(string reference)
    {
        var n = 0;
        foreach (var ch in reference.TakeWhile(char.IsAsciiLetter))
        {
            n = (n * 26) + (ch - 'A' + 1);
        }

        return n - 1;
    }
}
