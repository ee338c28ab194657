using System.Globalization;
using System.Text;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Storage;

namespace BatchPilot.Exports;

/// <summary>
/// What every document export says about its job (the traceability block of the seeds' "Export Automatique"):
/// ids, model, provider, timestamps, provider batch ids and token totals, loaded once before the items stream.
/// </summary>
internal sealed class ExportHeader
{
    private const int LabelLength = 80;

    private readonly Dictionary<long, string?> _providerIds;
    private readonly int _idIndex;
    private readonly int _labelIndex;

    private ExportHeader(JobRecord job, JobCounts counts, Dictionary<long, string?> providerIds, IReadOnlyList<string> batchIds, string title, DateTimeOffset exportedAt)
    {
        Job = job;
        Counts = counts;
        _providerIds = providerIds;
        BatchIds = batchIds;
        Title = title;
        ExportedAt = exportedAt;
        Answers = AnswerFields.ForJob(job);
        _idIndex = job.Spec.IdColumn is { } idColumn ? IndexOf(job.Columns, idColumn) : -1;
        _labelIndex = -1;
        for (var i = 0; i < job.Columns.Count; i++)
        {
            if (i != _idIndex)
            {
                _labelIndex = i;
                break;
            }
        }
    }

    /// <summary>The job.</summary>
    public JobRecord Job { get; }

    /// <summary>Item counts and token totals.</summary>
    public JobCounts Counts { get; }

    /// <summary>Distinct provider batch ids in batch order.</summary>
    public IReadOnlyList<string> BatchIds { get; }

    /// <summary>Document title.</summary>
    public string Title { get; }

    /// <summary>When the export was written.</summary>
    public DateTimeOffset ExportedAt { get; }

    /// <summary>The answer fields of a job with a <c>--json-schema</c> (answers render as a field table), else null.</summary>
    public AnswerFields? Answers { get; }

    /// <summary>Reads the job's counts and batches.</summary>
    public static async Task<ExportHeader> LoadAsync(IJobStore store, JobRecord job, ExportOptions options, CancellationToken cancellationToken)
    {
        var counts = await store.GetCountsAsync(job.Id, cancellationToken).ConfigureAwait(false);
        var batches = await store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false);
        var map = new Dictionary<long, string?>(batches.Count);
        var ids = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var b in batches)
        {
            map[b.Id] = b.ProviderBatchId;
            if (b.ProviderBatchId is { } pid && seen.Add(pid))
            {
                ids.Add(pid);
            }
        }

        var title = string.IsNullOrWhiteSpace(options.Title) ? job.Name : options.Title.Trim();
        return new ExportHeader(job, counts, map, ids, title, options.Time.GetUtcNow());
    }

    /// <summary>The provider batch id of the item's current attempt, if it was sent.</summary>
    public string? BatchIdOf(ItemRecord item) =>
        item.BatchId is { } id && _providerIds.TryGetValue(id, out var pid) ? pid : null;

    /// <summary>The id column's value when it differs from the custom id.</summary>
    public string? IdValueOf(ItemRecord item)
    {
        if (_idIndex < 0 || _idIndex >= item.Values.Length)
        {
            return null;
        }

        var v = item.Values[_idIndex]?.Trim();
        return string.IsNullOrEmpty(v) || string.Equals(v, item.CustomId, StringComparison.Ordinal) ? null : v;
    }

    /// <summary>A one-line label from the first input column that is not the id column (whitespace collapsed, shortened).</summary>
    public string? LabelOf(ItemRecord item)
    {
        if (_labelIndex < 0 || _labelIndex >= item.Values.Length || item.Values[_labelIndex] is not { } raw)
        {
            return null;
        }

        var sb = new StringBuilder(Math.Min(raw.Length, LabelLength + 1));
        var space = false;
        foreach (var c in raw)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                space = sb.Length > 0;
                continue;
            }

            if (space)
            {
                sb.Append(' ');
                space = false;
            }

            if (sb.Length >= LabelLength)
            {
                // Do not cut a surrogate pair in half.
                if (char.IsLowSurrogate(c) && sb.Length > 0 && char.IsHighSurrogate(sb[^1]))
                {
                    sb.Length--;
                }

                sb.Append('…');
                return sb.ToString();
            }

            sb.Append(c);
        }

        return sb.Length == 0 ? null : sb.ToString();
    }

    /// <summary>The item's title: custom id, the id column's value when it differs, and the label.</summary>
    public string ItemTitle(ItemRecord item)
    {
        var title = item.CustomId;
        if (IdValueOf(item) is { } id)
        {
            title += " · " + id;
        }

        if (LabelOf(item) is { } label)
        {
            title += " — " + label;
        }

        return title;
    }

    /// <summary>True when the item has no answer to show.</summary>
    public static bool ShowsError(ItemRecord item) => item.Status != ItemStatus.Succeeded || item.ResultText is null;

    /// <summary>Readable status line of an item without an answer.</summary>
    public static string ErrorLine(ItemRecord item)
    {
        if (item.ErrorCode is null && item.ErrorMessage is null)
        {
            return item.Status == ItemStatus.Succeeded ? "no answer text" : "no result yet";
        }

        return item.ErrorCode is null ? item.ErrorMessage! : item.ErrorMessage is null ? item.ErrorCode : $"{item.ErrorCode}: {item.ErrorMessage}";
    }

    /// <summary>Item counts as a phrase: <c>25 items: 24 succeeded, 1 failed</c>.</summary>
    public string CountsPhrase()
    {
        var c = Counts;
        var parts = new List<string>();
        void Add(long n, string what)
        {
            if (n > 0)
            {
                parts.Add(Num(n) + " " + what);
            }
        }

        Add(c.Succeeded, "succeeded");
        Add(c.Failed, "failed");
        Add(c.Expired, "expired");
        Add(c.Cancelled, "cancelled");
        Add(c.InBatch, "in a batch");
        Add(c.Pending, "pending");
        var head = Num(c.Total) + (c.Total == 1 ? " item" : " items");
        return parts.Count == 0 ? head : head + ": " + string.Join(", ", parts);
    }

    /// <summary>Token totals as a phrase.</summary>
    public string TokensPhrase() => TokensPhrase(new TokenUsage(Counts.InputTokens, Counts.OutputTokens, Counts.CachedTokens));

    /// <summary>Token usage as a phrase: <c>12 input (3 cached), 34 output</c>.</summary>
    public static string TokensPhrase(TokenUsage u) =>
        u.CachedTokens > 0 ? $"{Num(u.InputTokens)} input ({Num(u.CachedTokens)} cached), {Num(u.OutputTokens)} output" : $"{Num(u.InputTokens)} input, {Num(u.OutputTokens)} output";

    /// <summary>The job's metadata as label/value pairs, in display order (the visible header block).</summary>
    public IReadOnlyList<(string Label, string Value)> Fields()
    {
        var j = Job;
        return
        [
            ("Job", $"{j.Id} ({j.Name})"),
            ("Provider", j.Spec.Provider),
            ("Model", j.Spec.Model),
            ("Mode", ModeName(j.Spec.Mode)),
            ("Status", StatusName(j.Status)),
            ("Created", Iso(j.CreatedAt)),
            ("Completed", j.CompletedAt is { } done ? Iso(done) : "not completed"),
            ("Exported", Iso(ExportedAt)),
            ("Batches", BatchIds.Count == 0 ? "none" : string.Join(", ", BatchIds)),
            ("Items", CountsPhrase()),
            ("Tokens", TokensPhrase()),
        ];
    }

    /// <summary>UTC ISO 8601 with seconds: <c>2025-01-31T12:00:00Z</c>.</summary>
    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A number with thousands separators, invariant.</summary>
    public static string Num(long n) => n.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>Lower-case job mode.</summary>
    public static string ModeName(JobMode mode) => mode == JobMode.Sync ? "sync" : "batch";

    /// <summary>Snake-case job status.</summary>
    public static string StatusName(JobStatus status) => status switch
    {
        JobStatus.Preparing => "preparing",
        JobStatus.Pending => "pending",
        JobStatus.Running => "running",
        JobStatus.Completed => "completed",
        JobStatus.CompletedWithErrors => "completed_with_errors",
        JobStatus.Failed => "failed",
        _ => "cancelled",
    };

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
