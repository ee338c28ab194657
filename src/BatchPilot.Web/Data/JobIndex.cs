using System.Collections.Concurrent;
using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Planning;
using BatchPilot.Pricing;
using BatchPilot.Storage;

namespace BatchPilot.Web.Data;

/// <summary>One job as the list shows it: the record, its item counts, cost and progress.</summary>
internal sealed record JobSummary
{
    public required JobRecord Job { get; init; }

    public required JobCounts Counts { get; init; }

    public decimal? CostUsd { get; init; }

    public CostEstimate? Estimate { get; init; }

    public int Batches { get; init; }

    public int ActiveBatches { get; init; }

    /// <summary>Requests the provider reports done in batches not yet collected.</summary>
    public long ProviderDoneInFlight { get; init; }

    public DateTimeOffset? FirstSubmittedAt { get; init; }

    public string Id => Job.Id;

    public long Total => Counts.Total > 0 ? Counts.Total : Job.TotalItems;

    public long Done => Math.Min(Total, Counts.Ended + ProviderDoneInFlight);

    public double Progress => Total == 0 ? 0 : Math.Clamp((double)Counts.Ended / Total, 0, 1);

    public bool IsFinal => Job.Status is JobStatus.Completed or JobStatus.CompletedWithErrors or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>Remaining time from the pace since the first submission, while batches are at the provider.</summary>
    public TimeSpan? Eta(DateTimeOffset now)
    {
        if (ActiveBatches == 0 || FirstSubmittedAt is not { } start || Total == 0)
        {
            return null;
        }

        var done = Done;
        var elapsed = now - start;
        if (done <= 0 || elapsed <= TimeSpan.Zero)
        {
            return null;
        }

        var remaining = Total - done;
        return remaining <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(elapsed.TotalSeconds / done * remaining);
    }

    public static decimal? CostOf(JobRecord job, JobCounts c) =>
        PriceTable.Default.Cost(job.Spec.Model, new TokenUsage(c.InputTokens, c.OutputTokens, c.CachedTokens), job.Spec.Mode == JobMode.Batch);
}

/// <summary>A query of the job list.</summary>
internal sealed record JobQuery
{
    public string? Search { get; init; }

    public string? Status { get; init; }

    public string? Provider { get; init; }

    public string? Model { get; init; }

    public DateOnly? From { get; init; }

    public DateOnly? To { get; init; }

    public string Sort { get; init; } = "created";

    public bool Descending { get; init; } = true;

    public int Page { get; init; } = 1;

    public int Size { get; init; } = 50;

    public static readonly string[] SortKeys = ["name", "model", "status", "progress", "total", "cost", "created", "updated"];
}

/// <summary>A page of jobs.</summary>
internal sealed record JobListPage(IReadOnlyList<JobSummary> Jobs, int Total, int Page, int Size, long Version)
{
    public int Pages => Math.Max(1, (Total + Size - 1) / Size);
}

/// <summary>
/// The job list kept in memory and refreshed from the store in the background, so that listing, filtering, sorting and
/// paging 10,000 jobs costs no store query per request. Each cycle reads the job rows once; counts are re-read only for
/// new, changed (status or <see cref="JobRecord.UpdatedAt"/>), unfinished and invalidated jobs. When many jobs need it
/// (the first load, a burst of new jobs) and every <see cref="SweepInterval"/> anyway (so a change made by another
/// process always shows), the counts of every job come from one grouped query instead of one query per job.
/// </summary>
internal sealed class JobIndex
{
    /// <summary>How often the counts of every job are re-read, changed or not.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    /// <summary>Above this many jobs to re-read in a cycle, one grouped count query is cheaper than one query per job.</summary>
    private const int BulkCountsThreshold = 32;
    private const int EstimatesPerCycle = 25;
    private static readonly JobCounts NoItems = new();
    private readonly IJobStore _store;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, byte> _dirty = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CostEstimate> _estimates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _wantEstimate = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private Snapshot _snapshot = new([], new Dictionary<string, JobSummary>(StringComparer.Ordinal), 0, DateTimeOffset.MinValue);
    private DateTimeOffset _lastSweep = DateTimeOffset.MinValue;

    public JobIndex(IJobStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    internal sealed record Snapshot(JobSummary[] Jobs, Dictionary<string, JobSummary> ById, long Version, DateTimeOffset At)
    {
        /// <summary>Results computed from this snapshot (sorted orders, chart sums), so each is computed once per refresh, not per request.</summary>
        public ConcurrentDictionary<string, object> Memo { get; } = new(StringComparer.Ordinal);
    }

    public Snapshot Current => Volatile.Read(ref _snapshot);

    /// <summary>Marks a job to be re-read at the next refresh (after an action changed it).</summary>
    public void Invalidate(string jobId) => _dirty[jobId] = 0;

    public JobSummary? Find(string jobId) => Current.ById.GetValueOrDefault(jobId);

    /// <summary>Re-reads the job list; returns true when anything changed.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken);
        try
        {
            var old = Current;
            var now = _time.GetUtcNow();
            var jobs = await _store.ListJobsAsync(int.MaxValue, cancellationToken);
            var previous = new JobSummary?[jobs.Count];
            var stale = new bool[jobs.Count];
            var staleCount = 0;
            for (var i = 0; i < jobs.Count; i++)
            {
                var job = jobs[i];
                old.ById.TryGetValue(job.Id, out var p);
                previous[i] = p;
                var dirty = _dirty.TryRemove(job.Id, out _);
                stale[i] = p is null || p.Job.UpdatedAt != job.UpdatedAt || p.Job.Status != job.Status
                    || !p.IsFinal || p.ActiveBatches > 0 || job.Status is JobStatus.Cancelled || dirty;
                staleCount += stale[i] ? 1 : 0;
            }

            // One grouped query for every job's counts on a sweep or when many jobs need them; else one query per stale job.
            IReadOnlyDictionary<string, JobCounts>? all = null;
            if (now - _lastSweep >= SweepInterval || staleCount > BulkCountsThreshold)
            {
                all = await _store.GetAllCountsAsync(cancellationToken);
                _lastSweep = now;
            }

            var list = new JobSummary[jobs.Count];
            var byId = new Dictionary<string, JobSummary>(jobs.Count, StringComparer.Ordinal);
            var changed = jobs.Count != old.Jobs.Length;
            for (var i = 0; i < jobs.Count; i++)
            {
                var job = jobs[i];
                var p = previous[i];
                JobSummary summary;
                if (stale[i] || (all is not null && p is not null && all.GetValueOrDefault(job.Id, NoItems) != p.Counts))
                {
                    var counts = all is null ? await _store.GetCountsAsync(job.Id, cancellationToken) : all.GetValueOrDefault(job.Id, NoItems);
                    summary = await ReadAsync(job, counts, p, cancellationToken);
                    changed |= p is null || !Same(p, summary);
                }
                else
                {
                    summary = p! with { Job = job };
                }

                if (_estimates.TryGetValue(job.Id, out var est) && summary.Estimate is null)
                {
                    summary = summary with { Estimate = est };
                }

                list[i] = summary;
                byId[job.Id] = summary;
            }

            Volatile.Write(ref _snapshot, new Snapshot(list, byId, changed ? old.Version + 1 : old.Version, _time.GetUtcNow()));
            return changed;
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private static bool Same(JobSummary a, JobSummary b) =>
        a.Job.Status == b.Job.Status && a.Counts == b.Counts && a.ProviderDoneInFlight == b.ProviderDoneInFlight && a.ActiveBatches == b.ActiveBatches
        && a.Batches == b.Batches && a.Job.Name == b.Job.Name && a.Job.UpdatedAt == b.Job.UpdatedAt && a.Estimate == b.Estimate;

    private async Task<JobSummary> ReadAsync(JobRecord job, JobCounts counts, JobSummary? previous, CancellationToken cancellationToken)
    {
        int batches = previous?.Batches ?? 0, active = 0;
        long doneInFlight = 0;
        DateTimeOffset? first = previous?.FirstSubmittedAt;
        // Batches change only with active batches at the provider, a status change or new item counts (planning moves items).
        if (previous is null || previous.ActiveBatches > 0 || job.Status != previous.Job.Status || job.UpdatedAt != previous.Job.UpdatedAt
            || counts != previous.Counts || job.Status == JobStatus.Cancelled)
        {
            var list = await _store.ListBatchesAsync(job.Id, cancellationToken);
            batches = list.Count;
            active = list.Count(b => b.IsActive);
            doneInFlight = list.Where(b => b.State is BatchState.Submitted or BatchState.Ended).Sum(b => (long)b.DoneCount + b.FailedCount);
            first = list.Where(b => b.SubmittedAt is not null).Select(b => b.SubmittedAt).Min();
        }

        return new JobSummary
        {
            Job = job,
            Counts = counts,
            CostUsd = JobSummary.CostOf(job, counts),
            Estimate = previous?.Estimate ?? _estimates.GetValueOrDefault(job.Id),
            Batches = batches,
            ActiveBatches = active,
            ProviderDoneInFlight = doneInFlight,
            FirstSubmittedAt = first,
        };
    }

    /// <summary>Asks for the estimates of these jobs to be computed in the background.</summary>
    public void WantEstimates(IEnumerable<JobSummary> jobs)
    {
        foreach (var j in jobs)
        {
            if (j.Estimate is null && j.Job.Status != JobStatus.Preparing)
            {
                _wantEstimate.TryAdd(j.Id, 0);
            }
        }
    }

    /// <summary>Computes a few wanted estimates (one streamed pass over each job's items).</summary>
    public async Task ComputeEstimatesAsync(CancellationToken cancellationToken)
    {
        foreach (var id in _wantEstimate.Keys.Take(EstimatesPerCycle).ToList())
        {
            _wantEstimate.TryRemove(id, out _);
            if (Find(id) is not { } s || _estimates.ContainsKey(id))
            {
                continue;
            }

            var est = await EstimateAsync(_store, s.Job, cancellationToken);
            if (est is not null)
            {
                _estimates[id] = est;
                Invalidate(id);
            }
        }
    }

    /// <summary>The estimate of a stored job, from its items (null when its templates no longer compile).</summary>
    public static async Task<CostEstimate?> EstimateAsync(IJobStore store, JobRecord job, CancellationToken cancellationToken)
    {
        RequestFactory factory;
        try
        {
            factory = new RequestFactory(job.Spec, job.Columns);
        }
        catch (Errors.InputException)
        {
            return null;
        }

        long items = 0, chars = 0;
        await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken))
        {
            var r = factory.Create(item.Values);
            chars += r.UserText.Length + (r.System?.Length ?? 0);
            items++;
        }

        return CostEstimator.Of(job.Spec, items, chars);
    }

    public CostEstimate? EstimateOf(string jobId) => _estimates.GetValueOrDefault(jobId);

    public void SetEstimate(string jobId, CostEstimate estimate)
    {
        _estimates[jobId] = estimate;
        Invalidate(jobId);
    }

    /// <summary>Filters, sorts and pages the list.</summary>
    public JobListPage Query(JobQuery q)
    {
        var snap = Current;
        IEnumerable<JobSummary> rows = snap.Jobs;
        if (!string.IsNullOrWhiteSpace(q.Search))
        {
            var s = q.Search.Trim();
            rows = rows.Where(j => j.Job.Name.Contains(s, StringComparison.OrdinalIgnoreCase) || j.Id.Contains(s, StringComparison.OrdinalIgnoreCase));
        }

        if (!string.IsNullOrWhiteSpace(q.Status))
        {
            rows = q.Status switch
            {
                "active" => rows.Where(j => !j.IsFinal),
                "ended" => rows.Where(j => j.IsFinal),
                _ => rows.Where(j => string.Equals(j.Job.Status.ToString(), q.Status, StringComparison.OrdinalIgnoreCase)),
            };
        }

        if (!string.IsNullOrWhiteSpace(q.Provider))
        {
            rows = rows.Where(j => string.Equals(j.Job.Spec.Provider, q.Provider, StringComparison.OrdinalIgnoreCase));
        }

        if (!string.IsNullOrWhiteSpace(q.Model))
        {
            rows = rows.Where(j => string.Equals(j.Job.Spec.Model, q.Model, StringComparison.OrdinalIgnoreCase));
        }

        if (q.From is { } from)
        {
            var start = new DateTimeOffset(from.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            rows = rows.Where(j => j.Job.CreatedAt >= start);
        }

        if (q.To is { } to)
        {
            var end = new DateTimeOffset(to.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            rows = rows.Where(j => j.Job.CreatedAt < end);
        }

        var unfiltered = string.IsNullOrWhiteSpace(q.Search) && string.IsNullOrWhiteSpace(q.Status) && string.IsNullOrWhiteSpace(q.Provider)
            && string.IsNullOrWhiteSpace(q.Model) && q.From is null && q.To is null;
        IReadOnlyList<JobSummary> filtered;
        if (unfiltered)
        {
            // The plain list in a given order is what most requests ask: sorted once per snapshot, then each page is a slice.
            var sort = JobQuery.SortKeys.Contains(q.Sort) ? q.Sort : "created";
            filtered = (JobSummary[])snap.Memo.GetOrAdd($"sort:{sort}:{q.Descending}", _ => Sorted(snap.Jobs, sort, q.Descending));
        }
        else
        {
            filtered = Sorted(rows, q.Sort, q.Descending);
        }

        var size = Math.Clamp(q.Size, 1, 500);
        var pages = Math.Max(1, (filtered.Count + size - 1) / size);
        var page = Math.Clamp(q.Page, 1, pages);
        var first = (page - 1) * size;
        var slice = new List<JobSummary>(Math.Max(0, Math.Min(size, filtered.Count - first)));
        for (var i = first; i < filtered.Count && i < first + size; i++)
        {
            slice.Add(filtered[i]);
        }

        return new JobListPage(slice, filtered.Count, page, size, snap.Version);
    }

    private static JobSummary[] Sorted(IEnumerable<JobSummary> rows, string sort, bool descending)
    {
        var sorted = rows.ToArray();
        Comparison<JobSummary> cmp = sort switch
        {
            "name" => (a, b) => string.Compare(a.Job.Name, b.Job.Name, StringComparison.OrdinalIgnoreCase),
            "model" => (a, b) => string.Compare(a.Job.Spec.Model, b.Job.Spec.Model, StringComparison.OrdinalIgnoreCase),
            "status" => (a, b) => a.Job.Status.CompareTo(b.Job.Status),
            "progress" => (a, b) => a.Progress.CompareTo(b.Progress),
            "total" => (a, b) => a.Total.CompareTo(b.Total),
            "cost" => (a, b) => (a.CostUsd ?? -1).CompareTo(b.CostUsd ?? -1),
            "updated" => (a, b) => a.Job.UpdatedAt.CompareTo(b.Job.UpdatedAt),
            _ => (a, b) => a.Job.CreatedAt.CompareTo(b.Job.CreatedAt),
        };
        Array.Sort(sorted, (a, b) =>
        {
            var c = cmp(a, b);
            if (c == 0)
            {
                c = string.CompareOrdinal(a.Id, b.Id);
            }

            return descending ? -c : c;
        });
        return sorted;
    }

    /// <summary>Actual cost per model (jobs with a known price).</summary>
    public IReadOnlyList<(string Label, decimal Value)> CostByModel()
    {
        var snap = Current;
        return (IReadOnlyList<(string Label, decimal Value)>)snap.Memo.GetOrAdd("cost-by-model", _ => CostByModel(snap));
    }

    private static List<(string Label, decimal Value)> CostByModel(Snapshot snap) =>
        snap.Jobs.GroupBy(j => j.Job.Spec.Model, StringComparer.OrdinalIgnoreCase)
            .Select(g => (g.Key, g.Sum(j => j.CostUsd ?? 0)))
            .OrderByDescending(x => x.Item2).ThenBy(x => x.Key, StringComparer.Ordinal).Take(12).ToList();

    /// <summary>Actual cost per day of job creation (UTC), the last <paramref name="days"/> days.</summary>
    public IReadOnlyList<(string Label, decimal Value)> CostByDay(int days)
    {
        var snap = Current;
        var today = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
        return (IReadOnlyList<(string Label, decimal Value)>)snap.Memo.GetOrAdd(
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"cost-by-day:{days}:{today:yyyy-MM-dd}"), _ => CostByDay(snap, today, days));
    }

    private static List<(string Label, decimal Value)> CostByDay(Snapshot snap, DateOnly today, int days)
    {
        var sums = snap.Jobs.GroupBy(j => DateOnly.FromDateTime(j.Job.CreatedAt.UtcDateTime)).ToDictionary(g => g.Key, g => g.Sum(j => j.CostUsd ?? 0));
        var result = new List<(string, decimal)>(days);
        for (var d = today.AddDays(1 - days); d <= today; d = d.AddDays(1))
        {
            result.Add((d.ToString("MM-dd", System.Globalization.CultureInfo.InvariantCulture), sums.GetValueOrDefault(d)));
        }

        return result;
    }
}
