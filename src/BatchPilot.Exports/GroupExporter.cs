using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using BatchPilot.Errors;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Running;
using BatchPilot.Serialization;
using BatchPilot.Storage;

namespace BatchPilot.Exports;

/// <summary>One variant of a comparison export: its label (used in column names and headings) and its job.</summary>
/// <param name="Label">The variant's label, e.g. <c>gpt-4o-mini</c> or <c>gpt-4o-mini/short</c>.</param>
/// <param name="Job">The variant's job.</param>
public sealed record ComparedJob(string Label, JobRecord Job);

/// <summary>
/// The merged output of a comparison group: the variants' results side by side, one row per input row. The variants'
/// items are read in step from the store (each job in seq order; the jobs share their rows, so equal seqs are the same
/// row), so memory stays flat whatever the size. CSV keeps every input column once, then per variant
/// <c>response [label]</c>, <c>status [label]</c>, <c>error [label]</c>, <c>input_tokens [label]</c>,
/// <c>output_tokens [label]</c>; JSONL has one object per row with an object per variant; Markdown and Word have a
/// section per row with a subsection per variant, rendered as the single-job exports render an item.
/// </summary>
public static class GroupExporter
{
    private static readonly UTF8Encoding Utf8 = new(false);

    /// <summary>Writes the comparison and returns the number of rows.</summary>
    /// <param name="store">The store holding the jobs.</param>
    /// <param name="group">The group (its id and name go into the documents).</param>
    /// <param name="variants">The variants, in column order; at least one.</param>
    /// <param name="format">CSV, JSONL, Markdown or Word.</param>
    /// <param name="path">The output file.</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="cancellationToken">Cancels the export; nothing is left at <paramref name="path"/>.</param>
    /// <exception cref="InputException">The format is not available for a comparison, or the output cannot be written.</exception>
    public static async Task<long> ExportAsync(IJobStore store, GroupRecord group, IReadOnlyList<ComparedJob> variants, ExportFormat format, string path, ExportOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(variants);
        ArgumentOutOfRangeException.ThrowIfZero(variants.Count);
        options ??= new ExportOptions();
        EnsureSupported(format, options.Split);
        AtomicFile.EnsureWritable(path);
        long rows = 0;
        await AtomicFile.WriteAsync(path, async stream =>
        {
            rows = format switch
            {
                ExportFormat.Jsonl => await WriteJsonlAsync(store, variants, stream, cancellationToken).ConfigureAwait(false),
                ExportFormat.Markdown => await WriteMarkdownAsync(store, group, variants, stream, options, cancellationToken).ConfigureAwait(false),
                ExportFormat.Docx => await WriteDocxAsync(store, group, variants, stream, options, cancellationToken).ConfigureAwait(false),
                _ => await WriteCsvAsync(store, variants, stream, options, cancellationToken).ConfigureAwait(false),
            };
        }).ConfigureAwait(false);
        return rows;
    }

    /// <summary>Refuses, before anything is sent or written, the formats a comparison cannot be written in.</summary>
    /// <exception cref="InputException">xlsx, provider, or <c>--split</c>.</exception>
    public static void EnsureSupported(ExportFormat format, bool split = false)
    {
        if (split)
        {
            throw new InputException("--split writes the items of one job; a comparison is one document with every variant side by side", field: "--split",
                hint: "leave --split out, or export one variant's job with 'batchpilot export JOB --split'");
        }

        if (format is ExportFormat.Xlsx or ExportFormat.Provider)
        {
            throw new InputException($"a comparison is written as csv, jsonl, md or docx, not {(format == ExportFormat.Xlsx ? "xlsx" : "provider")}", field: "--out",
                hint: "use a .csv, .jsonl, .md or .docx file, or export one variant's job with 'batchpilot export JOB'");
        }
    }

    /// <summary>The merged CSV's columns: the input's, then the five result columns of each variant, named <c>NAME [label]</c>.</summary>
    public static IReadOnlyList<string> Columns(IReadOnlyList<string> inputColumns, string responseColumn, IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(inputColumns);
        ArgumentNullException.ThrowIfNull(labels);
        var wanted = labels.SelectMany(label => JobExporter.ResultColumnBases(responseColumn).Select(b => $"{b} [{label}]"));
        return [.. inputColumns, .. JobExporter.UniqueNames(inputColumns, wanted)];
    }

    /// <summary>The variants' items row by row: entry i is variant i's item of that row, or null when it has none.</summary>
    internal static async IAsyncEnumerable<ItemRecord?[]> RowsAsync(IJobStore store, IReadOnlyList<ComparedJob> variants, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var readers = variants.Select(v => store.ReadItemsAsync(v.Job.Id, cancellationToken).GetAsyncEnumerator(cancellationToken)).ToArray();
        try
        {
            var heads = new ItemRecord?[readers.Length];
            for (var i = 0; i < readers.Length; i++)
            {
                heads[i] = await readers[i].MoveNextAsync().ConfigureAwait(false) ? readers[i].Current : null;
            }

            while (heads.Any(h => h is not null))
            {
                var seq = heads.Where(h => h is not null).Min(h => h!.Seq);
                var row = new ItemRecord?[readers.Length];
                for (var i = 0; i < readers.Length; i++)
                {
                    if (heads[i] is { } head && head.Seq == seq)
                    {
                        row[i] = head;
                        heads[i] = await readers[i].MoveNextAsync().ConfigureAwait(false) ? readers[i].Current : null;
                    }
                }

                yield return row;
            }
        }
        finally
        {
            foreach (var r in readers)
            {
                await r.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static ItemRecord First(ItemRecord?[] row) => row.First(i => i is not null)!;

    private static void Progress(long rows)
    {
        if ((rows & 0xFFFF) == 0)
        {
            Checkpoints.Hit(Checkpoints.OutputWriting);
        }
    }

    private static async Task<long> WriteCsvAsync(IJobStore store, IReadOnlyList<ComparedJob> variants, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        var columns = variants[0].Job.Columns;
        await using var csv = new CsvOut(stream);
        foreach (var c in Columns(columns, options.ResponseColumn, variants.Select(v => v.Label).ToList()))
        {
            csv.Field(c);
        }

        csv.EndRecord();
        long rows = 0;
        await foreach (var row in RowsAsync(store, variants, cancellationToken).ConfigureAwait(false))
        {
            JobExporter.WriteInputFields(csv, columns, First(row));
            foreach (var item in row)
            {
                JobExporter.WriteResultFields(csv, item);
            }

            csv.EndRecord();
            Progress(++rows);
        }

        Checkpoints.Hit(Checkpoints.OutputWriting);
        return rows;
    }

    private static async Task<long> WriteJsonlAsync(IJobStore store, IReadOnlyList<ComparedJob> variants, Stream stream, CancellationToken cancellationToken)
    {
        var columns = variants[0].Job.Columns;
        await using var lines = new JsonLinesWriter(stream, ReadableJson.Compact);
        var w = lines.Writer;
        long rows = 0;
        await foreach (var row in RowsAsync(store, variants, cancellationToken).ConfigureAwait(false))
        {
            var first = First(row);
            w.WriteStartObject();
            w.WriteString("custom_id", first.CustomId);
            w.WriteNumber("row", first.SourceRow);
            w.WriteStartObject("variants");
            for (var i = 0; i < variants.Count; i++)
            {
                if (row[i] is not { } item)
                {
                    w.WriteNull(variants[i].Label);
                    continue;
                }

                w.WriteStartObject(variants[i].Label);
                w.WriteString("job_id", variants[i].Job.Id);
                w.WriteString("provider", variants[i].Job.Spec.Provider);
                w.WriteString("model", variants[i].Job.Spec.Model);
                JobExporter.WriteResultProperties(w, item);
                w.WriteEndObject();
            }

            w.WriteEndObject();
            JobExporter.WriteInputObject(w, columns, first);
            w.WriteEndObject();
            await lines.EndLineAsync(cancellationToken).ConfigureAwait(false);
            Progress(++rows);
        }

        return rows;
    }

    private static async Task<ExportHeader[]> HeadersAsync(IJobStore store, IReadOnlyList<ComparedJob> variants, ExportOptions options, CancellationToken cancellationToken)
    {
        var headers = new ExportHeader[variants.Count];
        for (var i = 0; i < variants.Count; i++)
        {
            headers[i] = await ExportHeader.LoadAsync(store, variants[i].Job, options, cancellationToken).ConfigureAwait(false);
        }

        return headers;
    }

    private static string TitleOf(GroupRecord group, ExportOptions options) => string.IsNullOrWhiteSpace(options.Title) ? group.Name : options.Title.Trim();

    /// <summary>The title of a row: the custom id, id value and label of the first variant's item.</summary>
    private static string RowTitle(ExportHeader[] headers, ItemRecord?[] row)
    {
        var i = Array.FindIndex(row, x => x is not null);
        return headers[i].ItemTitle(row[i]!);
    }

    private static async Task<long> WriteMarkdownAsync(IJobStore store, GroupRecord group, IReadOnlyList<ComparedJob> variants, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        var headers = await HeadersAsync(store, variants, options, cancellationToken).ConfigureAwait(false);
        var title = TitleOf(group, options);
        var exportedAt = options.Time.GetUtcNow();
        await using var w = new StreamWriter(stream, Utf8, 1 << 16, leaveOpen: true) { NewLine = "\n" };
        WriteFrontMatter(w, group, variants, headers, title, exportedAt);
        w.Write("# ");
        w.WriteLine(MarkdownBody.Escape(title));
        w.WriteLine();
        w.WriteLine($"Comparison {MarkdownBody.Code(group.Id)} ({MarkdownBody.Escape(group.Name)}), exported {ExportHeader.Iso(exportedAt)}.");
        w.WriteLine();
        w.WriteLine("| Variant | Job | Provider | Model | Status | Items | Tokens | Batches |");
        w.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        for (var i = 0; i < variants.Count; i++)
        {
            var (h, j) = (headers[i], variants[i].Job);
            var batches = h.BatchIds.Count == 0 ? "none" : string.Join(", ", h.BatchIds.Select(MarkdownBody.Code));
            w.WriteLine($"| {MarkdownBody.Escape(variants[i].Label)} | {MarkdownBody.Code(j.Id)} | {MarkdownBody.Escape(j.Spec.Provider)} | {MarkdownBody.Escape(j.Spec.Model)} | "
                + $"{ExportHeader.StatusName(j.Status)} | {MarkdownBody.Escape(h.CountsPhrase())} | {MarkdownBody.Escape(h.TokensPhrase())} | {batches} |");
        }

        w.WriteLine();
        long rows = 0;
        await foreach (var row in RowsAsync(store, variants, cancellationToken).ConfigureAwait(false))
        {
            w.Write("## ");
            w.WriteLine(MarkdownBody.Escape(RowTitle(headers, row)));
            w.WriteLine();
            for (var i = 0; i < variants.Count; i++)
            {
                w.Write("### ");
                w.WriteLine(MarkdownBody.Escape(variants[i].Label));
                w.WriteLine();
                if (row[i] is { } item)
                {
                    MarkdownExporter.WriteItemBody(w, headers[i], item, shift: 3);
                }
                else
                {
                    w.WriteLine("*No item for this row in this variant.*");
                    w.WriteLine();
                }
            }

            Progress(++rows);
        }

        Checkpoints.Hit(Checkpoints.OutputWriting);
        await w.FlushAsync(cancellationToken).ConfigureAwait(false);
        return rows;
    }

    private static void WriteFrontMatter(StreamWriter w, GroupRecord group, IReadOnlyList<ComparedJob> variants, ExportHeader[] headers, string title, DateTimeOffset exportedAt)
    {
        w.WriteLine("---");
        w.WriteLine("title: " + MarkdownBody.Yaml(title));
        w.WriteLine("generator: \"BatchPilot\"");
        w.WriteLine("group_id: " + MarkdownBody.Yaml(group.Id));
        w.WriteLine("group_name: " + MarkdownBody.Yaml(group.Name));
        w.WriteLine("exported_at: " + MarkdownBody.Yaml(ExportHeader.Iso(exportedAt)));
        w.WriteLine("variants:");
        for (var i = 0; i < variants.Count; i++)
        {
            var (h, j) = (headers[i], variants[i].Job);
            w.WriteLine("  - label: " + MarkdownBody.Yaml(variants[i].Label));
            w.WriteLine("    job_id: " + MarkdownBody.Yaml(j.Id));
            w.WriteLine("    provider: " + MarkdownBody.Yaml(j.Spec.Provider));
            w.WriteLine("    model: " + MarkdownBody.Yaml(j.Spec.Model));
            w.WriteLine("    mode: " + MarkdownBody.Yaml(ExportHeader.ModeName(j.Spec.Mode)));
            w.WriteLine("    status: " + MarkdownBody.Yaml(ExportHeader.StatusName(j.Status)));
            w.WriteLine("    items: " + MarkdownExporter.Int(h.Counts.Total));
            w.WriteLine("    succeeded: " + MarkdownExporter.Int(h.Counts.Succeeded));
            w.WriteLine("    input_tokens: " + MarkdownExporter.Int(h.Counts.InputTokens));
            w.WriteLine("    output_tokens: " + MarkdownExporter.Int(h.Counts.OutputTokens));
            w.WriteLine("    created_at: " + MarkdownBody.Yaml(ExportHeader.Iso(j.CreatedAt)));
            w.WriteLine("    completed_at: " + (j.CompletedAt is { } done ? MarkdownBody.Yaml(ExportHeader.Iso(done)) : "null"));
            w.WriteLine("    batch_ids: [" + string.Join(", ", h.BatchIds.Select(MarkdownBody.Yaml)) + "]");
        }

        w.WriteLine("---");
        w.WriteLine();
    }

    private static async Task<long> WriteDocxAsync(IJobStore store, GroupRecord group, IReadOnlyList<ComparedJob> variants, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        var headers = await HeadersAsync(store, variants, options, cancellationToken).ConfigureAwait(false);
        var title = TitleOf(group, options);
        var exportedAt = options.Time.GetUtcNow();
        var fields = new List<(string Label, string Value)> { ("Comparison", $"{group.Id} ({group.Name})"), ("Exported", ExportHeader.Iso(exportedAt)) };
        var properties = new List<(string Name, object Value)> { ("BatchPilot.GroupId", group.Id), ("BatchPilot.GroupName", group.Name), ("BatchPilot.ExportedAt", exportedAt) };
        for (var i = 0; i < variants.Count; i++)
        {
            var (h, j) = (headers[i], variants[i].Job);
            fields.Add((variants[i].Label, $"{j.Id} · {j.Spec.Provider} / {j.Spec.Model} ({ExportHeader.ModeName(j.Spec.Mode)}) · {ExportHeader.StatusName(j.Status)} · {h.CountsPhrase()} · tokens {h.TokensPhrase()} · batches {(h.BatchIds.Count == 0 ? "none" : string.Join(", ", h.BatchIds))}"));
            properties.Add(($"BatchPilot.Variant{i + 1}", $"{variants[i].Label}: {j.Id} {j.Spec.Provider} {j.Spec.Model} {string.Join(' ', h.BatchIds)}"));
        }

        var document = new DocxExporter.DocumentInfo(
            title,
            Subject: group.Id,
            Keywords: string.Join(' ', headers.SelectMany(h => h.BatchIds)),
            Description: $"{group.Name}: comparison of {string.Join(", ", variants.Select(v => v.Label))}.",
            Created: group.CreatedAt,
            Modified: exportedAt,
            PageHeader: $"BatchPilot · {group.Id} · {string.Join(", ", variants.Select(v => v.Job.Id))} · exported {ExportHeader.Iso(exportedAt)}",
            CustomProperties: properties);
        return await DocxExporter.WriteDocumentAsync(stream, document, async word =>
        {
            word.Paragraph("Title", title);
            word.Paragraph("Subtitle", $"BatchPilot comparison {group.Id}, {ExportHeader.Iso(exportedAt)}");
            word.FieldTable(fields);
            long rows = 0;
            await foreach (var row in RowsAsync(store, variants, cancellationToken).ConfigureAwait(false))
            {
                word.Paragraph("Heading1", RowTitle(headers, row));
                for (var i = 0; i < variants.Count; i++)
                {
                    word.Paragraph("Heading2", variants[i].Label);
                    if (row[i] is { } item)
                    {
                        DocxExporter.WriteItemContent(word, headers[i], item, headingShift: 2);
                    }
                    else
                    {
                        word.Paragraph("ItemError", "No item for this row in this variant.");
                    }
                }

                Progress(++rows);
            }

            return rows;
        }).ConfigureAwait(false);
    }
}
