using System.Globalization;
using System.Text;
using System.Text.Json;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Running;
using BatchPilot.Serialization;
using BatchPilot.Storage;

namespace BatchPilot.Exports;

/// <summary>Export formats.</summary>
public enum ExportFormat
{
    /// <summary>The input table with result columns added.</summary>
    Csv,

    /// <summary>One JSON object per item.</summary>
    Jsonl,

    /// <summary>A Markdown document with YAML front matter, or one file per item with <see cref="ExportOptions.Split"/>.</summary>
    Markdown,

    /// <summary>A Word document: answers rendered from Markdown to Word styles, metadata in the document properties.</summary>
    Docx,

    /// <summary>An Excel workbook: an items sheet and a job sheet.</summary>
    Xlsx,

    /// <summary>
    /// A raw job's results in its provider's output format (OpenAI batch output lines, Anthropic results lines), one
    /// line per input request in input order, each the provider's line verbatim.
    /// </summary>
    Provider,
}

/// <summary>Export settings.</summary>
public sealed record ExportOptions
{
    /// <summary>Name of the response column.</summary>
    public string ResponseColumn { get; init; } = "response";

    /// <summary>
    /// <see cref="ExportFormat.Markdown"/> only: the path is a folder that receives one <c>&lt;custom_id&gt;.md</c> per item
    /// plus <c>_index.md</c>; the whole set is written beside it and moved into place at the end.
    /// </summary>
    public bool Split { get; init; }

    /// <summary>Document title (Markdown, Word, Excel); the job's name when null or blank.</summary>
    public string? Title { get; init; }

    /// <summary>Clock for the export timestamp written into every document.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Prices of the per-item <c>cost_usd</c> column (csv, jsonl, xlsx).</summary>
    public Pricing.PriceTable Prices { get; init; } = Pricing.PriceTable.Default;
}

/// <summary>Streams a job's items out of the store into a file, atomically.</summary>
public static class JobExporter
{
    /// <summary>Writes the export and returns the number of rows (items).</summary>
    /// <param name="store">The store holding the job.</param>
    /// <param name="job">The job to export.</param>
    /// <param name="format">The file format.</param>
    /// <param name="path">The output file; with <see cref="ExportOptions.Split"/> (Markdown), the output folder.</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="cancellationToken">Cancels the export; nothing is left at <paramref name="path"/>.</param>
    /// <exception cref="BatchPilot.Errors.InputException">The output location cannot be written, or <see cref="ExportOptions.Split"/> is used with another format than Markdown.</exception>
    public static async Task<long> ExportAsync(IJobStore store, JobRecord job, ExportFormat format, string path, ExportOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        options ??= new ExportOptions();
        if (options.Split)
        {
            if (format != ExportFormat.Markdown)
            {
                throw new BatchPilot.Errors.InputException("--split writes one Markdown file per item", field: "--split", hint: "use it with --format md, or leave it out");
            }

            return await MarkdownExporter.WriteFolderAsync(store, job, path, options, cancellationToken).ConfigureAwait(false);
        }

        AtomicFile.EnsureWritable(path);
        if (format == ExportFormat.Provider)
        {
            await ProviderFileExporter.EnsureExportableAsync(store, job, cancellationToken).ConfigureAwait(false);
        }

        long rows = 0;
        await AtomicFile.WriteAsync(path, async stream =>
        {
            rows = format switch
            {
                ExportFormat.Jsonl => await WriteJsonlAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
                ExportFormat.Markdown => await MarkdownExporter.WriteDocumentAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
                ExportFormat.Docx => await DocxExporter.WriteAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
                ExportFormat.Xlsx => await XlsxExporter.WriteAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
                ExportFormat.Provider => await ProviderFileExporter.WriteAsync(store, job, stream, cancellationToken).ConfigureAwait(false),
                _ => await WriteCsvAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
            };
        }).ConfigureAwait(false);
        return rows;
    }

    /// <summary>The format named on a command line: <c>csv</c>, <c>jsonl</c>, <c>md</c> (or <c>markdown</c>), <c>docx</c>, <c>xlsx</c>, <c>provider</c>; case-insensitive.</summary>
    public static bool TryParseFormat(string? name, out ExportFormat format)
    {
        ExportFormat? parsed = name?.Trim().ToLowerInvariant() switch
        {
            "csv" => ExportFormat.Csv,
            "jsonl" => ExportFormat.Jsonl,
            "md" or "markdown" => ExportFormat.Markdown,
            "docx" => ExportFormat.Docx,
            "xlsx" => ExportFormat.Xlsx,
            "provider" => ExportFormat.Provider,
            _ => null,
        };
        format = parsed ?? ExportFormat.Csv;
        return parsed is not null;
    }

    /// <summary>
    /// The format a file name asks for by its extension (<c>.md</c>, <c>.markdown</c>, <c>.docx</c>, <c>.xlsx</c>,
    /// <c>.jsonl</c>); CSV otherwise, except for an extension that promises another format (<c>.json</c>, <c>.xls</c>,
    /// <c>.doc</c>, <c>.pdf</c>, <c>.tsv</c>), which is refused rather than filled with CSV.
    /// </summary>
    /// <exception cref="Errors.InputException">The extension names a format that is not written.</exception>
    public static ExportFormat FormatFromExtension(string path, string option = "--out")
    {
        ArgumentNullException.ThrowIfNull(path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".jsonl" => ExportFormat.Jsonl,
            ".md" or ".markdown" => ExportFormat.Markdown,
            ".docx" => ExportFormat.Docx,
            ".xlsx" => ExportFormat.Xlsx,
            ".json" or ".xls" or ".doc" or ".pdf" or ".tsv" => throw new Errors.InputException(
                $"a {ext} file cannot be written (it would hold CSV)", file: path, field: option,
                hint: ext switch
                {
                    ".json" => "use .jsonl (one JSON object per item)",
                    ".xls" => "use .xlsx",
                    ".doc" => "use .docx",
                    _ => "use .csv, .jsonl, .md, .docx or .xlsx",
                }),
            _ => ExportFormat.Csv,
        };
    }

    /// <summary>The conventional file extension of a format, with its dot (<c>.md</c>, <c>.docx</c>…).</summary>
    public static string ExtensionOf(ExportFormat format) => format switch
    {
        ExportFormat.Jsonl or ExportFormat.Provider => ".jsonl",
        ExportFormat.Markdown => ".md",
        ExportFormat.Docx => ".docx",
        ExportFormat.Xlsx => ".xlsx",
        _ => ".csv",
    };

    /// <summary>Result column names of a one-job export that do not clash with the input's columns: the bases, then <c>cost_usd</c>.</summary>
    public static IReadOnlyList<string> ResultColumns(IReadOnlyList<string> inputColumns, string responseColumn)
    {
        ArgumentNullException.ThrowIfNull(inputColumns);
        return UniqueNames(inputColumns, [.. ResultColumnBases(responseColumn), "cost_usd"]);
    }

    /// <summary>The result columns' names before they are made unique: the response column, status, error, tokens.</summary>
    internal static string[] ResultColumnBases(string responseColumn) => [responseColumn, "status", "error", "input_tokens", "output_tokens"];

    /// <summary>The wanted names, each made unique against the input's columns and the names before it (<c>_2</c>, <c>_3</c>…).</summary>
    internal static IReadOnlyList<string> UniqueNames(IReadOnlyList<string> inputColumns, IEnumerable<string> wantedNames) =>
        FreeNames(new HashSet<string>(inputColumns, StringComparer.OrdinalIgnoreCase), wantedNames);

    /// <summary>The wanted names, each made free of <paramref name="taken"/> by appending <c>_2</c>, <c>_3</c>…; the names are added to it.</summary>
    internal static IReadOnlyList<string> FreeNames(ISet<string> taken, IEnumerable<string> wanted)
    {
        var result = new List<string>();
        foreach (var w in wanted)
        {
            var name = w;
            for (var i = 2; taken.Contains(name); i++)
            {
                name = w + "_" + i.ToString(CultureInfo.InvariantCulture);
            }

            taken.Add(name);
            result.Add(name);
        }

        return result;
    }

    /// <summary>
    /// The CSV header after the input columns: the response column, then (with a <c>--json-schema</c>) one column per
    /// top-level schema property, then status, error and the token columns.
    /// </summary>
    internal static IReadOnlyList<string> CsvResultColumns(JobRecord job, string responseColumn, AnswerFields? fields)
    {
        var results = ResultColumns(job.Columns, responseColumn);
        if (fields is null)
        {
            return results;
        }

        var taken = new HashSet<string>(job.Columns.Concat(results), StringComparer.OrdinalIgnoreCase);
        return [results[0], .. fields.ColumnNames(taken), .. results.Skip(1)];
    }

    private static async Task<long> WriteCsvAsync(IJobStore store, JobRecord job, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        await using var csv = new CsvOut(stream);
        var fields = AnswerFields.ForJob(job);
        foreach (var c in job.Columns)
        {
            csv.Field(c);
        }

        foreach (var c in CsvResultColumns(job, options.ResponseColumn, fields))
        {
            csv.Field(c);
        }

        csv.EndRecord();
        var costs = await ItemCosts.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        long rows = 0;
        await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            WriteInputFields(csv, job.Columns, item);
            WriteResultFields(csv, item, fields);
            csv.Field(ItemCosts.Text(costs.Of(item)));
            csv.EndRecord();
            rows++;
            if ((rows & 0xFFFF) == 0)
            {
                Checkpoints.Hit(Checkpoints.OutputWriting);
            }
        }

        Checkpoints.Hit(Checkpoints.OutputWriting);
        return rows;
    }

    /// <summary>The item's input values, one field per input column.</summary>
    internal static void WriteInputFields(CsvOut csv, IReadOnlyList<string> columns, ItemRecord item)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            csv.Field(i < item.Values.Length ? item.Values[i] : null);
        }
    }

    /// <summary>
    /// The result fields of an item: response, the schema's fields (with a <c>--json-schema</c>), status, error, input and
    /// output tokens; empty for no item.
    /// </summary>
    internal static void WriteResultFields(CsvOut csv, ItemRecord? item, AnswerFields? fields = null)
    {
        csv.Field(item?.ResultText);
        if (fields is not null)
        {
            foreach (var v in fields.Values(item?.ResultText))
            {
                csv.Field(v);
            }
        }

        csv.Field(item is null ? null : StatusName(item));
        csv.Field(item is null ? null : ErrorText(item));
        csv.Field(item?.Usage?.InputTokens.ToString(CultureInfo.InvariantCulture));
        csv.Field(item?.Usage?.OutputTokens.ToString(CultureInfo.InvariantCulture));
    }

    private static async Task<long> WriteJsonlAsync(IJobStore store, JobRecord job, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        var costs = await ItemCosts.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        await using var lines = new JsonLinesWriter(stream, ReadableJson.Compact);
        var w = lines.Writer;
        var structured = job.Spec.JsonSchema is not null;
        long rows = 0;
        await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            w.WriteStartObject();
            w.WriteString("custom_id", item.CustomId);
            w.WriteNumber("row", item.SourceRow);
            WriteResultProperties(w, item, structured);
            if (costs.Of(item) is { } cost)
            {
                w.WriteNumber("cost_usd", cost);
            }
            else
            {
                w.WriteNull("cost_usd");
            }

            w.WriteBoolean("from_cache", item.FromCache);
            WriteInputObject(w, job.Columns, item);
            w.WriteEndObject();
            await lines.EndLineAsync(cancellationToken).ConfigureAwait(false);
            rows++;
        }

        return rows;
    }

    /// <summary>
    /// An item's <c>status</c>, <c>attempt</c>, <c>response</c>, (with <paramref name="structured"/>) <c>output</c>,
    /// <c>error</c> and <c>usage</c> properties (JSONL exports).
    /// </summary>
    internal static void WriteResultProperties(Utf8JsonWriter w, ItemRecord item, bool structured = false)
    {
        w.WriteString("status", StatusName(item));
        w.WriteNumber("attempt", item.Attempt);
        if (item.ResultText is null)
        {
            w.WriteNull("response");
        }
        else
        {
            w.WriteString("response", item.ResultText);
        }

        if (structured)
        {
            // The answer parsed (jobs with --json-schema), null when it is missing or not a JSON object.
            using var parsed = item.Status == ItemStatus.Succeeded ? AnswerFields.Parse(item.ResultText) : null;
            w.WritePropertyName("output");
            if (parsed is null)
            {
                w.WriteNullValue();
            }
            else
            {
                parsed.RootElement.WriteTo(w);
            }
        }

        if (item.ErrorCode is null && item.ErrorMessage is null)
        {
            w.WriteNull("error");
        }
        else
        {
            w.WriteStartObject("error");
            w.WriteString("code", item.ErrorCode);
            w.WriteString("message", item.ErrorMessage);
            w.WriteEndObject();
        }

        if (item.Usage is { } u)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", u.InputTokens);
            w.WriteNumber("output_tokens", u.OutputTokens);
            w.WriteNumber("cached_tokens", u.CachedTokens);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("usage");
        }
    }

    /// <summary>The item's <c>input</c> object: its values by column name (JSONL exports).</summary>
    internal static void WriteInputObject(Utf8JsonWriter w, IReadOnlyList<string> columns, ItemRecord item)
    {
        w.WriteStartObject("input");
        for (var i = 0; i < columns.Count; i++)
        {
            var v = i < item.Values.Length ? item.Values[i] : null;
            if (v is null)
            {
                w.WriteNull(columns[i]);
            }
            else
            {
                w.WriteString(columns[i], v);
            }
        }

        w.WriteEndObject();
    }

    /// <summary>The status name of an item in exports: <c>skipped</c> for an item skipped with <c>--skip-missing-images</c>, else <see cref="StatusName(ItemStatus)"/>.</summary>
    public static string StatusName(ItemRecord item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return item.Status == ItemStatus.Cancelled && item.ErrorCode == BatchPilot.Planning.ImageProblem.SkippedCode ? "skipped" : StatusName(item.Status);
    }

    /// <summary>The lower-case status name used in exports.</summary>
    public static string StatusName(ItemStatus status) => status switch
    {
        ItemStatus.Pending => "pending",
        ItemStatus.InBatch => "in_batch",
        ItemStatus.Succeeded => "succeeded",
        ItemStatus.Failed => "failed",
        ItemStatus.Expired => "expired",
        _ => "cancelled",
    };

    private static string? ErrorText(ItemRecord item) =>
        item.ErrorCode is null && item.ErrorMessage is null ? null : $"{item.ErrorCode}: {item.ErrorMessage}";
}
