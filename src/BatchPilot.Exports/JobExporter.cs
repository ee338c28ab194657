using System.Globalization;
using System.Text;
using System.Text.Json;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Running;
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
        long rows = 0;
        await AtomicFile.WriteAsync(path, async stream =>
        {
            rows = format switch
            {
                ExportFormat.Jsonl => await WriteJsonlAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
                ExportFormat.Markdown => await MarkdownExporter.WriteDocumentAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
                ExportFormat.Docx => await DocxExporter.WriteAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
                ExportFormat.Xlsx => await XlsxExporter.WriteAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
                _ => await WriteCsvAsync(store, job, stream, options, cancellationToken).ConfigureAwait(false),
            };
        }).ConfigureAwait(false);
        return rows;
    }

    /// <summary>The format named on a command line: <c>csv</c>, <c>jsonl</c>, <c>md</c> (or <c>markdown</c>), <c>docx</c>, <c>xlsx</c>; case-insensitive.</summary>
    public static bool TryParseFormat(string? name, out ExportFormat format)
    {
        ExportFormat? parsed = name?.Trim().ToLowerInvariant() switch
        {
            "csv" => ExportFormat.Csv,
            "jsonl" => ExportFormat.Jsonl,
            "md" or "markdown" => ExportFormat.Markdown,
            "docx" => ExportFormat.Docx,
            "xlsx" => ExportFormat.Xlsx,
            _ => null,
        };
        format = parsed ?? ExportFormat.Csv;
        return parsed is not null;
    }

    /// <summary>The format a file name asks for by its extension (<c>.md</c>, <c>.markdown</c>, <c>.docx</c>, <c>.xlsx</c>, <c>.jsonl</c>); CSV otherwise.</summary>
    public static ExportFormat FormatFromExtension(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".jsonl" => ExportFormat.Jsonl,
            ".md" or ".markdown" => ExportFormat.Markdown,
            ".docx" => ExportFormat.Docx,
            ".xlsx" => ExportFormat.Xlsx,
            _ => ExportFormat.Csv,
        };
    }

    /// <summary>The conventional file extension of a format, with its dot (<c>.md</c>, <c>.docx</c>…).</summary>
    public static string ExtensionOf(ExportFormat format) => format switch
    {
        ExportFormat.Jsonl => ".jsonl",
        ExportFormat.Markdown => ".md",
        ExportFormat.Docx => ".docx",
        ExportFormat.Xlsx => ".xlsx",
        _ => ".csv",
    };

    /// <summary>Result column names that do not clash with the input's columns.</summary>
    public static IReadOnlyList<string> ResultColumns(IReadOnlyList<string> inputColumns, string responseColumn)
    {
        ArgumentNullException.ThrowIfNull(inputColumns);
        var taken = new HashSet<string>(inputColumns, StringComparer.OrdinalIgnoreCase);
        var result = new List<string>();
        foreach (var wanted in new[] { responseColumn, "status", "error", "input_tokens", "output_tokens", "cost_usd" })
        {
            var name = wanted;
            for (var i = 2; taken.Contains(name); i++)
            {
                name = wanted + "_" + i.ToString(CultureInfo.InvariantCulture);
            }

            taken.Add(name);
            result.Add(name);
        }

        return result;
    }

    private static async Task<long> WriteCsvAsync(IJobStore store, JobRecord job, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        await using var csv = new CsvOut(stream);
        foreach (var c in job.Columns)
        {
            csv.Field(c);
        }

        foreach (var c in ResultColumns(job.Columns, options.ResponseColumn))
        {
            csv.Field(c);
        }

        csv.EndRecord();
        var costs = await ItemCosts.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        long rows = 0;
        await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < job.Columns.Count; i++)
            {
                csv.Field(i < item.Values.Length ? item.Values[i] : null);
            }

            csv.Field(item.ResultText);
            csv.Field(StatusName(item.Status));
            csv.Field(ErrorText(item));
            csv.Field(item.Usage?.InputTokens.ToString(CultureInfo.InvariantCulture));
            csv.Field(item.Usage?.OutputTokens.ToString(CultureInfo.InvariantCulture));
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

    private static async Task<long> WriteJsonlAsync(IJobStore store, JobRecord job, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        var costs = await ItemCosts.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        await using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false, SkipValidation = true });
        long rows = 0;
        await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            w.WriteStartObject();
            w.WriteString("custom_id", item.CustomId);
            w.WriteNumber("row", item.SourceRow);
            w.WriteString("status", StatusName(item.Status));
            w.WriteNumber("attempt", item.Attempt);
            if (item.ResultText is null)
            {
                w.WriteNull("response");
            }
            else
            {
                w.WriteString("response", item.ResultText);
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

            if (costs.Of(item) is { } cost)
            {
                w.WriteNumber("cost_usd", cost);
            }
            else
            {
                w.WriteNull("cost_usd");
            }

            w.WriteBoolean("from_cache", item.FromCache);

            w.WriteStartObject("input");
            for (var i = 0; i < job.Columns.Count; i++)
            {
                var v = i < item.Values.Length ? item.Values[i] : null;
                if (v is null)
                {
                    w.WriteNull(job.Columns[i]);
                }
                else
                {
                    w.WriteString(job.Columns[i], v);
                }
            }

            w.WriteEndObject();
            w.WriteEndObject();
            await w.FlushAsync(cancellationToken).ConfigureAwait(false);
            w.Reset();
            stream.WriteByte((byte)'\n');
            rows++;
        }

        return rows;
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
