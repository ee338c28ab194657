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
/// paging 10,000 jobs costs no store query per request. Counts are re-read for new, changed and unfinished jobs every
/// cycle, and for every other job in a slow round-robin sweep (so a change made by another process always shows).
/// </summary>
internal sealed class JobIndex
{
    private const int SweepPerCycle = 250;
    private const int EstimatesPerCycle = 25;
    private readonly IJobStore _store;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, byte> _dirty = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CostEstimate> _estimates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _wantEstimate = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private Snapshot _snapshot = new([], new Dictionary<string, JobSummary>(StringComparer.Ordinal), 0, DateTimeOffset.MinValue);
    private int _sweep;

    public JobIndex(IJobStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    internal sealed record Snapshot(JobSummary[] Jobs, Dictionary<string, JobSummary> ById, long Version, DateTimeOffset At);

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
            var jobs = await _store.ListJobsAsync(int.MaxValue, cancellationToken);
            var list = new JobSummary[jobs.Count];
            var byId = new Dictionary<string, JobSummary>(jobs.Count, StringComparer.Ordinal);
            var changed = jobs.Count != old.Jobs.Length;
            var sweepFrom = _sweep;
            for (var i = 0; i < jobs.Count; i++)
            {
                var job = jobs[i];
                old.ById.TryGetValue(job.Id, out var previous);
                var dirty = _dirty.TryRemove(job.Id, out _);
                var inSweep = jobs.Count > 0 && ((i - sweepFrom + jobs.Count) % jobs.Count) < SweepPerCycle;
                var stale = previous is null || previous.Job.UpdatedAt != job.UpdatedAt || previous.Job.Status != job.Status
                    || !previous.IsFinal || previous.ActiveBatches > 0 || job.Status is JobStatus.Cancelled
                    || dirty || inSweep;
                JobSummary summary;
                if (stale)
                {
                    summary = await ReadAsync(job, previous, cancellationToken);
                    changed |= previous is null || !Same(previous, summary);
                }
                else
                {
                    summary = previous! with { Job = job };
                }

                if (_estimates.TryGetValue(job.Id, out var est) && summary.Estimate is null)
                {
                    summary = summary with { Estimate = est };
                }

                list[i] = summary;
                byId[job.Id] = summary;
            }

            _sweep = jobs.Count == 0 ? 0 : (sweepFrom + SweepPerCycle) % jobs.Count;
            if (changed || list.Length != old.Jobs.Length)
            {
                Volatile.Write(ref _snapshot, new Snapshot(list, byId, old.Version + 1, _time.GetUtcNow()));
            }
            else
            {
                Volatile.Write(ref _snapshot, new Snapshot(list, byId, old.Version, _time.GetUtcNow()));
            }

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

    private async Task<JobSummary> ReadAsync(JobRecord job, JobSummary? previous, CancellationToken cancellationToken)
    {
        var counts = await _store.GetCountsAsync(job.Id, cancellationToken);
        int batches = previous?.Batches ?? 0, active = 0;
        long doneInFlight = 0;
        DateTimeOffset? first = previous?.FirstSubmittedAt;
        if (previous is null || !previous.IsFinal || previous.ActiveBatches > 0 || job.Status != previous.Job.Status || counts != previous.Counts || job.Status == JobStatus.Cancelled)
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

        var filtered = rows.ToList();
        Comparison<JobSummary> cmp = q.Sort switch
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
        filtered.Sort((a, b) =>
        {
            var c = cmp(a, b);
            if (c == 0)
            {
                c = string.CompareOrdinal(a.Id, b.Id);
            }

            return q.Descending ? -c : c;
        });
        var size = Math.Clamp(q.Size, 1, 500);
        var pages = Math.Max(1, (filtered.Count + size - 1) / size);
        var page = Math.Clamp(q.Page, 1, pages);
        return new JobListPage(filtered.Skip((page - 1) * size).Take(size).ToList(), filtered.Count, page, size, snap.Version);
    }

    /// <summary>Actual cost per model (jobs with a known price).</summary>
    public IReadOnlyList<(string Label, decimal Value)> CostByModel() =>
        Current.Jobs.GroupBy(j => j.Job.Spec.Model, StringComparer.OrdinalIgnoreCase)
            .Select(g => (g.Key, g.Sum(j => j.CostUsd ?? 0)))
            .OrderByDescending(x => x.Item2).ThenBy(x => x.Key, StringComparer.Ordinal).Take(12).ToList();

    /// <summary>Actual cost per day of job creation (UTC), the last <paramref name="days"/> days.</summary>
    public IReadOnlyList<(string Label, decimal Value)> CostByDay(int days)
    {
        var today = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
        var sums = Current.Jobs.GroupBy(j => DateOnly.FromDateTime(j.Job.CreatedAt.UtcDateTime)).ToDictionary(g => g.Key, g => g.Sum(j => j.CostUsd ?? 0));
        var result = new List<(string, decimal)>(days);
        for (var d = today.AddDays(1 - days); d <= today; d = d.AddDays(1))
        {
            result.Add((d.ToString("MM-dd", System.Globalization.CultureInfo.InvariantCulture), sums.GetValueOrDefault(d)));
        }

        return result;
    }
}
