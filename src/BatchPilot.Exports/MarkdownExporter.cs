using System.Globalization;
using System.Text;
using System.Text.Json;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Running;
using BatchPilot.Storage;

namespace BatchPilot.Exports;

/// <summary>
/// Markdown exports. One document: YAML front matter (job metadata), a title and a metadata table, then one
/// <c>##</c> section per item with its batch id, attempt and tokens. Split: one file per item with its own
/// front matter, plus <c>_index.md</c> that links them all.
/// </summary>
internal static class MarkdownExporter
{
    /// <summary>Name of the job file in a split export.</summary>
    public const string IndexName = "_index.md";

    private const int MaxFileStem = 100;

    private static readonly UTF8Encoding Utf8 = new(false);

    /// <summary>Writes the whole job as one Markdown document.</summary>
    public static async Task<long> WriteDocumentAsync(IJobStore store, JobRecord job, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        var header = await ExportHeader.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        await using var w = new StreamWriter(stream, Utf8, 1 << 16, leaveOpen: true) { NewLine = "\n" };
        WriteJobFrontMatter(w, header);
        WriteJobHeader(w, header);
        long rows = 0;
        await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            w.Write("## ");
            w.WriteLine(MarkdownBody.Escape(header.ItemTitle(item)));
            w.WriteLine();
            WriteItemBody(w, header, item, shift: 2);
            rows++;
            if ((rows & 0xFFFF) == 0)
            {
                Checkpoints.Hit(Checkpoints.OutputWriting);
            }
        }

        Checkpoints.Hit(Checkpoints.OutputWriting);
        await w.FlushAsync(cancellationToken).ConfigureAwait(false);
        return rows;
    }

    /// <summary>Writes one file per item and <c>_index.md</c> into the folder <paramref name="path"/>, atomically as a set.</summary>
    public static async Task<long> WriteFolderAsync(IJobStore store, JobRecord job, string path, ExportOptions options, CancellationToken cancellationToken)
    {
        AtomicFolder.EnsureWritable(path);
        var header = await ExportHeader.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        long rows = 0;
        await AtomicFolder.WriteAsync(path, async dir =>
        {
            rows = await WriteFilesAsync(store, header, dir, cancellationToken).ConfigureAwait(false);
        }, options.Time).ConfigureAwait(false);
        return rows;
    }

    private static async Task<long> WriteFilesAsync(IJobStore store, ExportHeader header, string dir, CancellationToken cancellationToken)
    {
        long rows = 0;
        var indexStream = new FileStream(Path.Combine(dir, IndexName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        await using (indexStream.ConfigureAwait(false))
        {
            await using var index = new StreamWriter(indexStream, Utf8, 1 << 16) { NewLine = "\n" };
            WriteJobFrontMatter(index, header);
            WriteJobHeader(index, header);
            index.WriteLine("## Items");
            index.WriteLine();
            index.WriteLine("| Item | Status | Batch | Tokens |");
            index.WriteLine("| --- | --- | --- | --- |");
            await foreach (var item in store.ReadItemsAsync(header.Job.Id, cancellationToken).ConfigureAwait(false))
            {
                var (file, stream) = CreateItemFile(dir, item.CustomId);
                await using (stream.ConfigureAwait(false))
                {
                    await using var w = new StreamWriter(stream, Utf8, 1 << 12) { NewLine = "\n" };
                    WriteItemFrontMatter(w, header, item);
                    w.Write("# ");
                    w.WriteLine(MarkdownBody.Escape(header.ItemTitle(item)));
                    w.WriteLine();
                    WriteItemBody(w, header, item, shift: 1);
                }

                index.Write("| [");
                index.Write(MarkdownBody.Escape(header.ItemTitle(item)));
                index.Write("](<");
                index.Write(file);
                index.Write(">) | ");
                index.Write(JobExporter.StatusName(item));
                index.Write(" | ");
                index.Write(header.BatchIdOf(item) is { } b ? MarkdownBody.Code(b) : "—");
                index.Write(" | ");
                index.Write(item.Usage is { } u ? $"{ExportHeader.Num(u.InputTokens)} / {ExportHeader.Num(u.OutputTokens)}" : "—");
                index.WriteLine(" |");
                rows++;
                if ((rows & 0xFFF) == 0)
                {
                    Checkpoints.Hit(Checkpoints.OutputWriting);
                }
            }

            index.WriteLine();
        }

        var marker = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["generator"] = "BatchPilot",
            ["format"] = "md",
            ["job_id"] = header.Job.Id,
            ["items"] = rows,
            ["exported_at"] = ExportHeader.Iso(header.ExportedAt),
        });
        await File.WriteAllBytesAsync(Path.Combine(dir, AtomicFolder.MarkerName), marker, cancellationToken).ConfigureAwait(false);
        Checkpoints.Hit(Checkpoints.OutputWriting);
        return rows;
    }

    /// <summary>
    /// Creates <c>&lt;custom_id&gt;.md</c> (made safe as a file name). The file system decides collisions
    /// (a case-insensitive one, or two ids equal once made safe): the later item gets <c>~2</c>, <c>~3</c>…,
    /// so no set of a million names is kept in memory.
    /// </summary>
    private static (string File, FileStream Stream) CreateItemFile(string dir, string customId)
    {
        var stem = SafeFileStem(customId);
        for (var n = 1; ; n++)
        {
            var name = n == 1 ? stem + ".md" : stem + "~" + n.ToString(CultureInfo.InvariantCulture) + ".md";
            var full = Path.Combine(dir, name);
            try
            {
                return (name, new FileStream(full, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1));
            }
            catch (IOException) when (n < 1000 && File.Exists(full))
            {
            }
        }
    }

    /// <summary>A file name stem from a custom id: letters, digits, '-', '_' and '.' kept, others become '_'.</summary>
    internal static string SafeFileStem(string customId)
    {
        var sb = new StringBuilder(Math.Min(customId.Length, MaxFileStem));
        foreach (var c in customId)
        {
            if (sb.Length >= MaxFileStem)
            {
                break;
            }

            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' || (c == '.' && sb.Length > 0) || (char.IsLetterOrDigit(c) && !char.IsSurrogate(c)) ? c : '_');
        }

        var stem = sb.ToString().TrimEnd('.', ' ');
        if (stem.Length == 0)
        {
            return "item";
        }

        // Names Windows reserves, with or without an extension.
        var bare = stem.Split('.')[0].ToUpperInvariant();
        if (bare is "CON" or "PRN" or "AUX" or "NUL" || (bare.Length == 4 && (bare.StartsWith("COM", StringComparison.Ordinal) || bare.StartsWith("LPT", StringComparison.Ordinal)) && char.IsAsciiDigit(bare[3])))
        {
            stem = "_" + stem;
        }

        return stem;
    }

    private static void WriteJobFrontMatter(StreamWriter w, ExportHeader h)
    {
        var j = h.Job;
        var c = h.Counts;
        w.WriteLine("---");
        w.WriteLine("title: " + MarkdownBody.Yaml(h.Title));
        w.WriteLine("generator: \"BatchPilot\"");
        w.WriteLine("job_id: " + MarkdownBody.Yaml(j.Id));
        w.WriteLine("job_name: " + MarkdownBody.Yaml(j.Name));
        WriteJobFields(w, h);
        w.WriteLine("status: " + MarkdownBody.Yaml(ExportHeader.StatusName(j.Status)));
        w.WriteLine("items: " + Int(c.Total));
        w.WriteLine("succeeded: " + Int(c.Succeeded));
        w.WriteLine("failed: " + Int(c.Failed));
        w.WriteLine("expired: " + Int(c.Expired));
        w.WriteLine("cancelled: " + Int(c.Cancelled));
        w.WriteLine("unfinished: " + Int(c.Pending + c.InBatch));
        w.WriteLine("input_tokens: " + Int(c.InputTokens));
        w.WriteLine("cached_tokens: " + Int(c.CachedTokens));
        w.WriteLine("output_tokens: " + Int(c.OutputTokens));
        w.WriteLine("---");
        w.WriteLine();
    }

    /// <summary>Provider, model, mode, timestamps and batch ids: shared by the job's and each item's front matter.</summary>
    private static void WriteJobFields(StreamWriter w, ExportHeader h, string prefix = "")
    {
        var j = h.Job;
        w.WriteLine("provider: " + MarkdownBody.Yaml(j.Spec.Provider));
        w.WriteLine("model: " + MarkdownBody.Yaml(j.Spec.Model));
        w.WriteLine("mode: " + MarkdownBody.Yaml(ExportHeader.ModeName(j.Spec.Mode)));
        w.WriteLine(prefix + "created_at: " + MarkdownBody.Yaml(ExportHeader.Iso(j.CreatedAt)));
        w.WriteLine(prefix + "completed_at: " + (j.CompletedAt is { } done ? MarkdownBody.Yaml(ExportHeader.Iso(done)) : "null"));
        w.WriteLine("exported_at: " + MarkdownBody.Yaml(ExportHeader.Iso(h.ExportedAt)));
        if (prefix.Length > 0)
        {
            return;
        }

        if (h.BatchIds.Count == 0)
        {
            w.WriteLine("batch_ids: []");
            return;
        }

        w.WriteLine("batch_ids:");
        foreach (var id in h.BatchIds)
        {
            w.WriteLine("  - " + MarkdownBody.Yaml(id));
        }
    }

    private static void WriteJobHeader(StreamWriter w, ExportHeader h)
    {
        w.Write("# ");
        w.WriteLine(MarkdownBody.Escape(h.Title));
        w.WriteLine();
        w.WriteLine("| Field | Value |");
        w.WriteLine("| --- | --- |");
        foreach (var (label, value) in h.Fields())
        {
            w.Write("| ");
            w.Write(label);
            w.Write(" | ");
            if (label == "Batches" && h.BatchIds.Count > 0)
            {
                w.Write(string.Join(", ", h.BatchIds.Select(MarkdownBody.Code)));
            }
            else
            {
                w.Write(MarkdownBody.Escape(value));
            }

            w.WriteLine(" |");
        }

        w.WriteLine();
    }

    private static void WriteItemFrontMatter(StreamWriter w, ExportHeader h, ItemRecord item)
    {
        w.WriteLine("---");
        w.WriteLine("title: " + MarkdownBody.Yaml(h.ItemTitle(item)));
        w.WriteLine("custom_id: " + MarkdownBody.Yaml(item.CustomId));
        w.WriteLine("source_row: " + Int(item.SourceRow));
        w.WriteLine("status: " + MarkdownBody.Yaml(JobExporter.StatusName(item)));
        w.WriteLine("attempt: " + Int(item.Attempt));
        w.WriteLine("batch_id: " + MarkdownBody.Yaml(h.BatchIdOf(item)));
        w.WriteLine("input_tokens: " + (item.Usage is { } u ? Int(u.InputTokens) : "null"));
        w.WriteLine("cached_tokens: " + (item.Usage is { } u2 ? Int(u2.CachedTokens) : "null"));
        w.WriteLine("output_tokens: " + (item.Usage is { } u3 ? Int(u3.OutputTokens) : "null"));
        if (item.ErrorCode is not null || item.ErrorMessage is not null)
        {
            w.WriteLine("error_code: " + MarkdownBody.Yaml(item.ErrorCode));
            w.WriteLine("error_message: " + MarkdownBody.Yaml(item.ErrorMessage));
        }

        w.WriteLine("job_id: " + MarkdownBody.Yaml(h.Job.Id));
        w.WriteLine("job_name: " + MarkdownBody.Yaml(h.Job.Name));
        WriteJobFields(w, h, prefix: "job_");
        w.WriteLine("generator: \"BatchPilot\"");
        w.WriteLine("---");
        w.WriteLine();
    }

    /// <summary>The metadata line, then the answer (headings shifted) or the status and error.</summary>
    internal static void WriteItemBody(StreamWriter w, ExportHeader h, ItemRecord item, int shift)
    {
        w.Write("Batch: ");
        w.Write(h.BatchIdOf(item) is { } b ? MarkdownBody.Code(b) : "none");
        w.Write(" · Attempt: ");
        w.Write(Int(item.Attempt));
        w.Write(" · Tokens: ");
        w.Write(item.Usage is { } u ? ExportHeader.TokensPhrase(u) : "none");
        w.Write(" · Source row: ");
        w.WriteLine(Int(item.SourceRow));
        w.WriteLine();
        if (ExportHeader.ShowsError(item))
        {
            w.Write("**Status:** ");
            w.Write(JobExporter.StatusName(item));
            w.Write(" — ");
            if (item.ErrorCode is { } code)
            {
                w.Write(MarkdownBody.Code(code));
                w.Write(item.ErrorMessage is null ? string.Empty : ": ");
            }

            w.WriteLine(item.ErrorCode is null && item.ErrorMessage is null ? ExportHeader.ErrorLine(item) : MarkdownBody.Escape(item.ErrorMessage ?? string.Empty));
        }
        else
        {
            var body = (h.Answers?.Markdown(item.ResultText) ?? MarkdownBody.Contain(item.ResultText!, shift)).TrimEnd();
            w.WriteLine(body);
        }

        w.WriteLine();
    }

    internal static string Int(long n) => n.ToString(CultureInfo.InvariantCulture);
}
