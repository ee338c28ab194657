using System.Collections.Concurrent;
using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Planning;
using BatchPilot.Pricing;
using BatchPilot.Providers;
using BatchPilot.Storage;

namespace BatchPilot.Web.Data;

/// <summary>The comparison group a job belongs to, and its variant there.</summary>
/// <param name="Id">The group id (<c>grp-…</c>).</param>
/// <param name="Name">The group's name.</param>
/// <param name="Label">The job's variant label.</param>
internal sealed record GroupRef(string Id, string Name, string Label);

/// <summary>One job as the list shows it: the record, its item counts, batches, cost and progress.</summary>
internal sealed record JobSummary
{
    public required JobRecord Job { get; init; }

    public required JobCounts Counts { get; init; }

    /// <summary>Actual cost: each batch's billed usage at the price of its API (as <c>status</c>); null when the model has no price.</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>The comparison group of the job, if any.</summary>
    public GroupRef? Group { get; init; }

    /// <summary>The job's batches as last read (empty when it has none).</summary>
    public IReadOnlyList<BatchRecord> BatchList { get; init; } = [];

    public int Batches => BatchList.Count;

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

    /// <summary>The estimated cost in the job's own mode (batch or sync).</summary>
    public static decimal? EstimatedCost(JobRecord job, CostEstimate? estimate) =>
        estimate is null ? null : job.Spec.Mode == JobMode.Sync ? estimate.SyncCostUsd : estimate.BatchCostUsd;

    /// <summary>The summary of a job from its counts and batches, priced with <paramref name="prices"/>.</summary>
    public static JobSummary Of(JobRecord job, JobCounts counts, IReadOnlyList<BatchRecord> batches, PriceTable prices) => new()
    {
        Job = job,
        Counts = counts,
        CostUsd = JobCosts.OfJob(job.Spec, batches, prices),
        BatchList = batches,
        ActiveBatches = batches.Count(b => b.IsActive),
        ProviderDoneInFlight = batches.Where(b => b.State is BatchState.Submitted or BatchState.Ended).Sum(b => (long)b.DoneCount + b.FailedCount),
        FirstSubmittedAt = batches.Where(b => b.SubmittedAt is not null).Select(b => b.SubmittedAt).Min(),
    };
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
/// paging 10,000 jobs costs no store query per request, and a refresh costs what changed, not what the store holds.
/// Each cycle asks the store for the jobs updated lately (a new job, a status change) and the number of jobs (a deletion
/// elsewhere shows as a smaller number, which triggers a full re-read); then re-reads counts and batches only of those
/// jobs, of the jobs with work in progress (their items move without a status change), of the jobs an action touched, and
/// of a few finished jobs in turn (so a change made by another process always shows in the end). A cycle that changes
/// nothing keeps the snapshot, so the sorted orders and chart sums computed from it stay valid.
/// </summary>
internal sealed class JobIndex
{
    /// <summary>How often every job row is re-read, changed or not.</summary>
    public static readonly TimeSpan FullReadInterval = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How far before the previous cycle's start each cycle asks for updated jobs. A write carries the time its
    /// transaction started and may commit later, after waiting for the store's lock (SQLite's busy timeout is 10 s):
    /// it is still seen. Re-reading a recent row twice is harmless.
    /// </summary>
    public static readonly TimeSpan UpdateMargin = TimeSpan.FromSeconds(15);

    /// <summary>Above this many jobs to read counts of, one grouped count query is cheaper than one query per job.</summary>
    private const int BulkCountsThreshold = 256;

    /// <summary>Finished jobs whose counts are re-read per cycle, in turn.</summary>
    private const int RotationPerCycle = 64;

    /// <summary>Items whose estimate is computed per cycle at most (at least one job's).</summary>
    private const long EstimateItemsPerCycle = 50_000;

    /// <summary>Time spent computing estimates per cycle at most (at least one job's).</summary>
    private static readonly TimeSpan EstimateTimePerCycle = TimeSpan.FromMilliseconds(200);

    private static readonly JobCounts NoItems = new();
    private readonly IJobStore _store;
    private readonly TimeProvider _time;
    private readonly PriceTable _prices;
    private readonly ConcurrentDictionary<string, byte> _dirty = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CostEstimate> _estimates = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _wantEstimate = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private Snapshot _snapshot = Snapshot.Empty;
    private DateTimeOffset _lastFullRead = DateTimeOffset.MinValue;
    /// <summary>When the previous cycle started (by this process's clock, which the store's writers on this machine share).</summary>
    private DateTimeOffset _watermark = DateTimeOffset.MinValue;
    private int _rotation;
    private long _estimatesVersion;

    public JobIndex(IJobStore store, TimeProvider time, PriceTable? prices = null)
    {
        _store = store;
        _time = time;
        _prices = prices ?? PriceTable.Default;
    }

    /// <summary>The prices costs and estimates are computed with (the configuration's, overrides included).</summary>
    public PriceTable Prices => _prices;

    /// <summary>The comparison group of each job that has one (re-read when jobs appear or go).</summary>
    private Dictionary<string, GroupRef> _groups = new(StringComparer.Ordinal);

    /// <summary>An immutable view of every job, with what is computed from it once (sorted orders, totals, chart sums).</summary>
    internal sealed class Snapshot
    {
        public static readonly Snapshot Empty = new([], new Dictionary<string, JobSummary>(StringComparer.Ordinal), 0);

        private readonly ConcurrentDictionary<string, Lazy<object>> _memo = new(StringComparer.Ordinal);

        public Snapshot(JobSummary[] jobs, Dictionary<string, JobSummary> byId, long version)
        {
            Jobs = jobs;
            ById = byId;
            Version = version;
            var active = 0;
            long items = 0;
            decimal cost = 0;
            foreach (var j in jobs)
            {
                active += j.IsFinal ? 0 : 1;
                items += j.Total;
                cost += j.CostUsd ?? 0;
            }

            Active = active;
            Items = items;
            CostUsd = cost;
        }

        public JobSummary[] Jobs { get; }

        public Dictionary<string, JobSummary> ById { get; }

        /// <summary>Grows by one each time anything shown changes (a client can compare it to know whether to re-read).</summary>
        public long Version { get; }

        /// <summary>Unfinished jobs.</summary>
        public int Active { get; }

        public long Items { get; }

        public decimal CostUsd { get; }

        /// <summary>
        /// A result computed from this snapshot once, however many requests ask for it at the same time (the others wait
        /// for the first instead of computing it again).
        /// </summary>
        public T Memo<T>(string key, Func<Snapshot, T> compute)
            where T : class =>
            (T)_memo.GetOrAdd(key, _ => new Lazy<object>(() => compute(this), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }

    public Snapshot Current => Volatile.Read(ref _snapshot);

    /// <summary>Grows by one each time an estimate is added (the estimates shown are not part of <see cref="Snapshot.Version"/>).</summary>
    public long EstimatesVersion => Interlocked.Read(ref _estimatesVersion);

    /// <summary>Marks a job to be re-read at the next refresh (after an action changed it).</summary>
    public void Invalidate(string jobId) => _dirty[jobId] = 0;

    /// <summary>True while a job waits to be re-read after an action.</summary>
    public bool IsDirty(string jobId) => _dirty.ContainsKey(jobId);

    public JobSummary? Find(string jobId) => Current.ById.GetValueOrDefault(jobId);

    /// <summary>Re-reads what changed in the store; returns true when anything shown changed.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken);
        try
        {
            var old = Current;
            var now = _time.GetUtcNow();
            var records = new Dictionary<string, JobRecord>(StringComparer.Ordinal);
            var full = now - _lastFullRead >= FullReadInterval || old == Snapshot.Empty;
            if (!full)
            {
                var since = _watermark - UpdateMargin;
                var changes = await _store.ListJobsUpdatedSinceAsync(since, cancellationToken);
                var added = 0;
                foreach (var job in changes.Jobs)
                {
                    records[job.Id] = job;
                    added += old.ById.ContainsKey(job.Id) ? 0 : 1;
                }

                // Fewer or more jobs than known plus new ones: some were deleted (or created with an old time) elsewhere.
                full = changes.TotalJobs != old.Jobs.Length + added;
            }

            List<JobRecord> jobs;
            if (full)
            {
                jobs = [.. await _store.ListJobsAsync(int.MaxValue, cancellationToken)];
            }
            else
            {
                jobs = new List<JobRecord>(old.Jobs.Length + records.Count);
                foreach (var s in old.Jobs)
                {
                    jobs.Add(records.Remove(s.Id, out var changed) ? changed : s.Job);
                }

                jobs.AddRange(records.Values);
            }

            // Which jobs need their counts and batches read again.
            var reread = new List<int>();
            var rotationLeft = RotationPerCycle;
            var start = old.Jobs.Length == 0 ? 0 : _rotation % Math.Max(1, jobs.Count);
            for (var k = 0; k < jobs.Count; k++)
            {
                var i = (start + k) % jobs.Count;
                var job = jobs[i];
                old.ById.TryGetValue(job.Id, out var p);
                var dirty = _dirty.TryRemove(job.Id, out _);
                var stale = p is null || dirty || p.Job.UpdatedAt != job.UpdatedAt || p.Job.Status != job.Status
                    || p.ActiveBatches > 0 || job.Status is JobStatus.Running or JobStatus.Preparing;
                if (!stale && rotationLeft > 0)
                {
                    stale = true;
                    rotationLeft--;
                    _rotation = i + 1;
                }

                if (stale)
                {
                    reread.Add(i);
                }
            }

            // Groups are stored with their members' job ids before the jobs exist, so a new job finds its group here.
            var groups = _groups;
            if ((full || records.Count > 0 || jobs.Count != old.Jobs.Length) && _store is IGroupStore groupStore)
            {
                groups = new Dictionary<string, GroupRef>(StringComparer.Ordinal);
                foreach (var g in await groupStore.ListGroupsAsync(cancellationToken))
                {
                    foreach (var m in g.Members)
                    {
                        groups[m.JobId] = new GroupRef(g.Id, g.Name, m.Label);
                    }
                }
            }

            IReadOnlyDictionary<string, JobCounts>? all = null;
            if (reread.Count > BulkCountsThreshold)
            {
                all = await _store.GetAllCountsAsync(cancellationToken);
            }

            var fresh = new JobSummary[jobs.Count];
            var changedAny = jobs.Count != old.Jobs.Length;
            foreach (var i in reread)
            {
                var job = jobs[i];
                old.ById.TryGetValue(job.Id, out var p);
                var counts = all is null ? await _store.GetCountsAsync(job.Id, cancellationToken) : all.GetValueOrDefault(job.Id, NoItems);
                var summary = await ReadAsync(job, counts, p, cancellationToken);
                changedAny |= p is null || !Same(p, summary);
                fresh[i] = p is not null && Same(p, summary) ? p : summary;
            }

            var list = new JobSummary[jobs.Count];
            var byId = new Dictionary<string, JobSummary>(jobs.Count, StringComparer.Ordinal);
            for (var i = 0; i < jobs.Count; i++)
            {
                var job = jobs[i];
                var summary = fresh[i];
                if (summary is null)
                {
                    var p = old.ById[job.Id];
                    summary = ReferenceEquals(p.Job, job) ? p : p with { Job = job };
                }

                var group = groups.GetValueOrDefault(job.Id);
                if (summary.Group != group)
                {
                    summary = summary with { Group = group };
                    changedAny = true;
                }

                changedAny |= !old.ById.ContainsKey(job.Id);
                list[i] = summary;
                byId[job.Id] = summary;
            }

            foreach (var id in _dirty.Keys)
            {
                if (!byId.ContainsKey(id) && full)
                {
                    _dirty.TryRemove(id, out _);
                }
            }

            if (changedAny)
            {
                Volatile.Write(ref _snapshot, new Snapshot(list, byId, old.Version + 1));
            }

            _groups = groups;

            // Only a cycle that went through moves the marks on (a failed one is done again from the same point).
            _watermark = now;
            _lastFullRead = full ? now : _lastFullRead;
            return changedAny;
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private static bool Same(JobSummary a, JobSummary b) =>
        a.Job.Status == b.Job.Status && a.Counts == b.Counts && a.ProviderDoneInFlight == b.ProviderDoneInFlight && a.ActiveBatches == b.ActiveBatches
        && a.Batches == b.Batches && a.Job.Name == b.Job.Name && a.Job.UpdatedAt == b.Job.UpdatedAt && a.Job.TotalItems == b.Job.TotalItems
        && a.BatchList.SequenceEqual(b.BatchList);

    private async Task<JobSummary> ReadAsync(JobRecord job, JobCounts counts, JobSummary? previous, CancellationToken cancellationToken)
    {
        // Batches change only with active batches at the provider, a status change or new item counts (planning moves items).
        if (previous is null || previous.ActiveBatches > 0 || job.Status != previous.Job.Status || job.UpdatedAt != previous.Job.UpdatedAt
            || counts != previous.Counts || job.Status is JobStatus.Cancelled or JobStatus.Running)
        {
            return JobSummary.Of(job, counts, await _store.ListBatchesAsync(job.Id, cancellationToken), _prices) with { Group = previous?.Group };
        }

        return previous with { Job = job, Counts = counts, CostUsd = JobCosts.OfJob(job.Spec, previous.BatchList, _prices) };
    }

    /// <summary>Asks for the estimates of these jobs to be computed in the background.</summary>
    public void WantEstimates(IEnumerable<JobSummary> jobs)
    {
        foreach (var j in jobs)
        {
            if (j.Job.Status != JobStatus.Preparing && j.Job.Spec.Kind != JobKind.Raw && !_estimates.ContainsKey(j.Id))
            {
                _wantEstimate.TryAdd(j.Id, 0);
            }
        }
    }

    /// <summary>
    /// Computes some wanted estimates (one streamed pass over each job's items), a bounded number of items and time per
    /// call; the cached responses that show estimates are renewed once per call, not once per estimate.
    /// </summary>
    public async Task ComputeEstimatesAsync(CancellationToken cancellationToken)
    {
        long budget = EstimateItemsPerCycle;
        var started = _time.GetTimestamp();
        var added = 0;
        foreach (var id in _wantEstimate.Keys.ToList())
        {
            if (budget <= 0 || _time.GetElapsedTime(started) > EstimateTimePerCycle)
            {
                break;
            }

            _wantEstimate.TryRemove(id, out _);
            if (Find(id) is not { } s || _estimates.ContainsKey(id))
            {
                continue;
            }

            budget -= Math.Max(1, s.Total);
            var est = await EstimateAsync(_store, s.Job, _prices, cancellationToken);
            if (est is not null && _estimates.TryAdd(id, est))
            {
                added++;
            }
        }

        if (added > 0)
        {
            Interlocked.Increment(ref _estimatesVersion);
        }
    }

    /// <summary>
    /// The estimate of a stored job, from its items (null when its templates no longer compile, and for a batch file's
    /// job, whose requests are not estimated: see <c>submit-file</c>).
    /// </summary>
    public static async Task<CostEstimate?> EstimateAsync(IJobStore store, JobRecord job, PriceTable prices, CancellationToken cancellationToken)
    {
        if (job.Spec.Kind == JobKind.Raw)
        {
            return null;
        }

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

        return CostEstimator.Of(job.Spec, items, chars, prices);
    }

    public CostEstimate? EstimateOf(string jobId) => _estimates.GetValueOrDefault(jobId);

    public void SetEstimate(string jobId, CostEstimate estimate)
    {
        if (_estimates.TryAdd(jobId, estimate))
        {
            Interlocked.Increment(ref _estimatesVersion);
        }
    }

    /// <summary>Filters, sorts and pages the list.</summary>
    public JobListPage Query(JobQuery q)
    {
        var snap = Current;
        IEnumerable<JobSummary> rows = snap.Jobs;
        if (!string.IsNullOrWhiteSpace(q.Search))
        {
            var s = q.Search.Trim();
            rows = rows.Where(j => j.Job.Name.Contains(s, StringComparison.OrdinalIgnoreCase) || j.Id.Contains(s, StringComparison.OrdinalIgnoreCase)
                || (j.Group is { } g && (g.Id.Contains(s, StringComparison.OrdinalIgnoreCase) || g.Name.Contains(s, StringComparison.OrdinalIgnoreCase))));
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
            var descending = q.Descending;
            filtered = snap.Memo($"sort:{sort}:{descending}", s => Sorted(s.Jobs, sort, descending));
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

    /// <summary>The providers of the jobs and the two built-in ones, for the filter.</summary>
    public IReadOnlyList<string> Providers() => Current.Memo("providers", s =>
        s.Jobs.Select(j => j.Job.Spec.Provider).Concat([ProviderNames.OpenAI, ProviderNames.Anthropic]).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).ToList());

    /// <summary>The models of the jobs, for the filter (at most 200).</summary>
    public IReadOnlyList<string> Models() => Current.Memo("models", s =>
        s.Jobs.Select(j => j.Job.Spec.Model).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).Take(200).ToList());

    /// <summary>Actual cost per model (jobs with a known price).</summary>
    public IReadOnlyList<(string Label, decimal Value)> CostByModel()
    {
        return Current.Memo("cost-by-model", CostByModel);
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
        return snap.Memo(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"cost-by-day:{days}:{today:yyyy-MM-dd}"), s => CostByDay(s, today, days));
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
