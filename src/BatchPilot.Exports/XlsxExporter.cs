using System.Globalization;
using System.IO.Compression;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Running;
using BatchPilot.Storage;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Spreadsheet;

namespace BatchPilot.Exports;

/// <summary>
/// The Excel export: sheet "Items" (custom_id, the input columns, the CSV export's result columns, batch_id,
/// attempt; header row frozen and filtered), continued on "Items (2)"… past Excel's 1,048,576 rows, and sheet
/// "Job" with the job's metadata. Strings are inline (no shared-strings table in memory); rows are streamed.
/// </summary>
internal static class XlsxExporter
{
    /// <summary>Excel's limit of characters in a cell; longer answers are cut with a note (csv/jsonl keep them whole).</summary>
    public const int MaxCellText = 32_767;

    private const string ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.";
    private const string WorkbookPart = "/xl/workbook.xml";

    /// <summary>Data rows per sheet under the header: Excel's row limit less one.</summary>
    public const int MaxRowsPerSheet = 1_048_575;

    private static readonly AsyncLocal<int?> RowsPerSheetOverride = new();

    private static int RowsPerSheet => RowsPerSheetOverride.Value ?? MaxRowsPerSheet;

    /// <summary>Tests: a smaller sheet size for the exports of the current async flow, until disposed.</summary>
    internal static IDisposable UseRowsPerSheet(int rows)
    {
        RowsPerSheetOverride.Value = rows;
        return new Reset();
    }

    private sealed class Reset : IDisposable
    {
        public void Dispose() => RowsPerSheetOverride.Value = null;
    }

    /// <summary>Writes the workbook into <paramref name="stream"/> and returns the number of items.</summary>
    public static async Task<long> WriteAsync(IJobStore store, JobRecord job, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        var header = await ExportHeader.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        var fields = AnswerFields.ForJob(job);
        var costs = await ItemCosts.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        var columns = Columns(job.Columns, options.ResponseColumn, fields);
        var refs = Enumerable.Range(0, Math.Max(columns.Count, 2)).Select(ColumnName).ToArray();
        using var zip = new OpenXmlZip(stream);
        var sheets = new List<string>();
        long rows = 0;
        SheetWriter? sheet = null;
        try
        {
            await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
            {
                if (sheet is null || sheet.Rows >= RowsPerSheet)
                {
                    sheet?.Dispose();
                    sheets.Add(sheets.Count == 0 ? "Items" : $"Items ({(sheets.Count + 1).ToString(CultureInfo.InvariantCulture)})");
                    sheet = new SheetWriter(zip, sheets.Count, refs, columns, frozen: true);
                }

                sheet.Row(Values(header, costs, job, item, fields));
                rows++;
                if ((rows & 0xFFFF) == 0)
                {
                    Checkpoints.Hit(Checkpoints.OutputWriting);
                }
            }

            if (sheet is null)
            {
                sheets.Add("Items");
                sheet = new SheetWriter(zip, sheets.Count, refs, columns, frozen: true);
            }
        }
        finally
        {
            sheet?.Dispose();
        }

        sheets.Add("Job");
        using (var jobSheet = new SheetWriter(zip, sheets.Count, refs, ["field", "value"], frozen: false))
        {
            foreach (var (key, value) in JobRows(header))
            {
                jobSheet.Row([key, value]);
            }
        }

        WriteWorkbook(zip, sheets);
        WriteStyles(zip);
        zip.AddRelationship("/", "rIdDoc", OpenXmlZip.Rel + "officeDocument", "xl/workbook.xml");
        zip.WriteCoreProperties(header.Title, job.Id, string.Join(' ', header.BatchIds), $"{job.Name}: {header.CountsPhrase()}", job.CreatedAt, header.ExportedAt);
        WordParts.WriteAppProperties(zip);
        WordParts.WriteCustomProperties(zip, header);
        zip.Complete();
        Checkpoints.Hit(Checkpoints.OutputWriting);
        return rows;
    }

    /// <summary>Column names: custom_id, the inputs, the result columns of the CSV export, batch_id, attempt; renamed when they clash.</summary>
    internal static IReadOnlyList<string> Columns(IReadOnlyList<string> inputColumns, string responseColumn, AnswerFields? fields = null)
    {
        var taken = new HashSet<string>(inputColumns, StringComparer.OrdinalIgnoreCase);
        string Free(string wanted)
        {
            var name = wanted;
            for (var i = 2; taken.Contains(name); i++)
            {
                name = wanted + "_" + i.ToString(CultureInfo.InvariantCulture);
            }

            taken.Add(name);
            return name;
        }

        var first = Free("custom_id");
        var results = JobExporter.ResultColumns([.. taken], responseColumn);
        foreach (var r in results)
        {
            taken.Add(r);
        }

        // With a schema, one column per top-level property right after the response column.
        IReadOnlyList<string> spread = fields?.ColumnNames(taken) ?? [];
        return [first, .. inputColumns, results[0], .. spread, .. results.Skip(1), Free("batch_id"), Free("attempt")];
    }

    private static object?[] Values(ExportHeader header, ItemCosts costs, JobRecord job, ItemRecord item, AnswerFields? fields)
    {
        var values = new object?[job.Columns.Count + 9 + (fields?.Properties.Count ?? 0)];
        values[0] = item.CustomId;
        for (var i = 0; i < job.Columns.Count; i++)
        {
            values[i + 1] = i < item.Values.Length ? item.Values[i] : null;
        }

        var k = job.Columns.Count + 1;
        values[k++] = item.ResultText;
        if (fields is not null)
        {
            foreach (var v in fields.Values(item.ResultText))
            {
                values[k++] = v;
            }
        }

        values[k++] = JobExporter.StatusName(item);
        values[k++] = item.ErrorCode is null && item.ErrorMessage is null ? null : $"{item.ErrorCode}: {item.ErrorMessage}";
        values[k++] = item.Usage?.InputTokens;
        values[k++] = item.Usage?.OutputTokens;
        values[k++] = costs.Of(item);
        values[k++] = header.BatchIdOf(item);
        values[k] = (long)item.Attempt;
        return values;
    }

    private static IEnumerable<(string, object?)> JobRows(ExportHeader h)
    {
        var j = h.Job;
        var c = h.Counts;
        yield return ("title", h.Title);
        yield return ("generator", "BatchPilot");
        yield return ("job_id", j.Id);
        yield return ("job_name", j.Name);
        yield return ("provider", j.Spec.Provider);
        yield return ("model", j.Spec.Model);
        yield return ("mode", ExportHeader.ModeName(j.Spec.Mode));
        yield return ("status", ExportHeader.StatusName(j.Status));
        yield return ("created_at", ExportHeader.Iso(j.CreatedAt));
        yield return ("completed_at", j.CompletedAt is { } done ? ExportHeader.Iso(done) : null);
        yield return ("exported_at", ExportHeader.Iso(h.ExportedAt));
        yield return ("batch_ids", string.Join(' ', h.BatchIds));
        yield return ("items", c.Total);
        yield return ("succeeded", c.Succeeded);
        yield return ("failed", c.Failed);
        yield return ("expired", c.Expired);
        yield return ("cancelled", c.Cancelled);
        yield return ("unfinished", c.Pending + c.InBatch);
        yield return ("input_tokens", c.InputTokens);
        yield return ("cached_tokens", c.CachedTokens);
        yield return ("output_tokens", c.OutputTokens);
    }

    /// <summary>A, B, … Z, AA, AB…</summary>
    internal static string ColumnName(int index)
    {
        var name = string.Empty;
        for (var n = index + 1; n > 0; n = (n - 1) / 26)
        {
            name = (char)('A' + ((n - 1) % 26)) + name;
        }

        return name;
    }

    private static void WriteWorkbook(OpenXmlZip zip, List<string> sheets)
    {
        var list = new Sheets();
        for (var i = 0; i < sheets.Count; i++)
        {
            var id = "rIdS" + (i + 1).ToString(CultureInfo.InvariantCulture);
            list.AppendChild(new Sheet { Name = sheets[i], SheetId = (uint)(i + 1), Id = id });
            zip.AddRelationship(WorkbookPart, id, OpenXmlZip.Rel + "worksheet", $"worksheets/sheet{(i + 1).ToString(CultureInfo.InvariantCulture)}.xml");
        }

        var workbook = new Workbook(new BookViews(new WorkbookView { ActiveTab = 0U }), list);
        workbook.AddNamespaceDeclaration("r", WordParts.R);
        WordParts.Write(zip, WorkbookPart, ContentType + "sheet.main+xml", workbook);
    }

    private static void WriteStyles(OpenXmlZip zip)
    {
        var styles = new Stylesheet(
            new Fonts(
                new Font(new FontSize { Val = 11 }, new FontName { Val = "Calibri" }),
                new Font(new Bold(), new FontSize { Val = 11 }, new FontName { Val = "Calibri" }))
            { Count = 2U },
            new Fills(
                new Fill(new PatternFill { PatternType = PatternValues.None }),
                new Fill(new PatternFill { PatternType = PatternValues.Gray125 }))
            { Count = 2U },
            new Borders(new Border(new LeftBorder(), new RightBorder(), new TopBorder(), new BottomBorder(), new DiagonalBorder())) { Count = 1U },
            new CellStyleFormats(new CellFormat { NumberFormatId = 0U, FontId = 0U, FillId = 0U, BorderId = 0U }) { Count = 1U },
            new CellFormats(
                new CellFormat { NumberFormatId = 0U, FontId = 0U, FillId = 0U, BorderId = 0U, FormatId = 0U },
                new CellFormat { NumberFormatId = 0U, FontId = 1U, FillId = 0U, BorderId = 0U, FormatId = 0U, ApplyFont = true })
            { Count = 2U },
            new CellStyles(new CellStyle { Name = "Normal", FormatId = 0U, BuiltinId = 0U }) { Count = 1U });
        WordParts.Write(zip, "/xl/styles.xml", ContentType + "styles+xml", styles);
        zip.AddRelationship(WorkbookPart, "rIdStyles", OpenXmlZip.Rel + "styles", "styles.xml");
    }

    /// <summary>One worksheet part, written row by row.</summary>
    private sealed class SheetWriter : IDisposable
    {
        private readonly Stream _part;
        private readonly PartWriter _w;
        private readonly string[] _refs;
        private readonly int _columns;
        private readonly bool _filter;
        private long _row;

        public SheetWriter(OpenXmlZip zip, int number, string[] refs, IReadOnlyList<string> header, bool frozen)
        {
            _refs = refs;
            _columns = header.Count;
            _filter = frozen;
            _part = zip.CreatePart($"/xl/worksheets/sheet{number.ToString(CultureInfo.InvariantCulture)}.xml", ContentType + "worksheet+xml", CompressionLevel.Fastest);
            _w = new PartWriter(_part);
            _w.WriteStartDocument();
            _w.Start(new Worksheet(), [new("r", WordParts.R)]);
            var view = new SheetView { WorkbookViewId = 0U, TabSelected = number == 1 };
            if (frozen)
            {
                view.AppendChild(new Pane { VerticalSplit = 1D, TopLeftCell = "A2", ActivePane = PaneValues.BottomLeft, State = PaneStateValues.Frozen });
                view.AppendChild(new Selection { Pane = PaneValues.BottomLeft, ActiveCell = "A2", SequenceOfReferences = new ListValue<StringValue> { InnerText = "A2" } });
            }

            _w.Element(new SheetViews(view));
            _w.Element(new SheetFormatProperties { DefaultRowHeight = 15D });
            _w.Start(new SheetData());
            Write(header, style: 1);
            Rows = 0;
        }

        /// <summary>Data rows written (the header not counted).</summary>
        public long Rows { get; private set; }

        public void Row(IReadOnlyList<object?> values)
        {
            Write(values, style: 0);
            Rows++;
        }

        private void Write(IReadOnlyList<object?> values, uint style)
        {
            _row++;
            var r = _row.ToString(CultureInfo.InvariantCulture);
            var s = style == 0 ? null : style.ToString(CultureInfo.InvariantCulture);

            // <x:row r="2"><x:c r="A2"><x:v>42</x:v></x:c><x:c r="B2" t="inlineStr"><x:is><x:t xml:space="preserve">…</x:t></x:is></x:c></x:row>
            _w.Start("x", "row", PartWriter.X);
            _w.Attribute(string.Empty, "r", string.Empty, r);
            for (var i = 0; i < values.Count; i++)
            {
                switch (values[i])
                {
                    case null:
                        break;
                    case long or decimal:
                        // Numbers (token counts, costs); a decimal's invariant text never uses an exponent.
                        StartCell(_refs[i] + r, s, inlineString: false);
                        _w.Start("x", "v", PartWriter.X);
                        _w.Text(Convert.ToString(values[i], CultureInfo.InvariantCulture)!);
                        _w.End();
                        _w.End();
                        break;
                    case var v:
                        var text = XmlText.Clean(Convert.ToString(v, CultureInfo.InvariantCulture));
                        if (text.Length > MaxCellText)
                        {
                            var note = $" […cut: {text.Length.ToString(CultureInfo.InvariantCulture)} characters, Excel holds {MaxCellText.ToString(CultureInfo.InvariantCulture)}]";
                            var keep = MaxCellText - note.Length;
                            if (char.IsHighSurrogate(text[keep - 1]))
                            {
                                keep--;
                            }

                            text = text[..keep] + note;
                        }

                        StartCell(_refs[i] + r, s, inlineString: true);
                        _w.Start("x", "is", PartWriter.X);
                        _w.Start("x", "t", PartWriter.X);
                        _w.PreserveSpace();
                        _w.Text(text);
                        _w.End();
                        _w.End();
                        _w.End();
                        break;
                }
            }

            _w.End();
        }

        /// <summary>A cell's start tag, its attributes in schema order: reference, style, type.</summary>
        private void StartCell(string reference, string? style, bool inlineString)
        {
            _w.Start("x", "c", PartWriter.X);
            _w.Attribute(string.Empty, "r", string.Empty, reference);
            if (style is not null)
            {
                _w.Attribute(string.Empty, "s", string.Empty, style);
            }

            if (inlineString)
            {
                _w.Attribute(string.Empty, "t", string.Empty, "inlineStr");
            }
        }

        public void Dispose()
        {
            _w.End();
            if (_filter && _columns > 0)
            {
                _w.Element(new AutoFilter { Reference = $"A1:{_refs[_columns - 1]}{_row.ToString(CultureInfo.InvariantCulture)}" });
            }

            _w.End();
            _w.Dispose();
            _part.Dispose();
        }
    }
}
