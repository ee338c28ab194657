using System.Collections.Concurrent;
using BatchPilot.Batches;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage;
using BatchPilot.Web.Hosting;

namespace BatchPilot.Web.Data;

/// <summary>Settings of one synchronous run (null: the configuration's, else the defaults).</summary>
internal sealed record SyncSettings(long? RequestsPerMinute = null, long? TokensPerMinute = null, int? Concurrency = null);

/// <summary>One line of a job's activity (what the engine did), shown live on its page.</summary>
internal sealed record Activity(DateTimeOffset At, string Message, bool Warning);

/// <summary>
/// Runs engine steps for the dashboard: one job at a time per job (a button press and the background loop never run
/// on the same job at once in this process; other processes are safe through the store's compare-and-set), with a
/// fresh client from <see cref="DashboardOptions.ClientFactory"/> each time, and an activity log per job.
/// </summary>
internal sealed class JobRunner
{
    private const int ActivityKept = 40;
    private readonly DashboardState _state;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LinkedList<Activity>> _activity = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _background = new();
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _stops = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _noCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (BudgetRefusal Stop, DateTimeOffset At)> _budgetStops = new(StringComparer.Ordinal);

    /// <summary>How long a sync-mode job held back by a budget is left alone by the background engine (a raise retries at once).</summary>
    public static readonly TimeSpan BudgetRetryDelay = TimeSpan.FromMinutes(10);

    public JobRunner(DashboardState state) => _state = state;

    public IReadOnlyList<Activity> ActivityOf(string jobId)
    {
        if (!_activity.TryGetValue(jobId, out var list))
        {
            return [];
        }

        lock (list)
        {
            return list.Reverse().ToList();
        }
    }

    public void Note(string jobId, string message, bool warning = false)
    {
        var list = _activity.GetOrAdd(jobId, _ => new LinkedList<Activity>());
        lock (list)
        {
            // A pass that repeats what one of the last ones said (a batch still held back by a budget) adds nothing.
            var recent = list.Last;
            for (var i = 0; i < 4 && recent is not null; i++, recent = recent.Previous)
            {
                if (recent.Value.Message == message && recent.Value.Warning == warning)
                {
                    return;
                }
            }

            list.AddLast(new Activity(_state.Time.GetUtcNow(), message, warning));
            while (list.Count > ActivityKept)
            {
                list.RemoveFirst();
            }
        }
    }

    /// <summary>True when a step is running on the job in this process.</summary>
    public bool IsBusy(string jobId) => _locks.TryGetValue(jobId, out var gate) && gate.CurrentCount == 0;

    /// <summary>
    /// Runs <paramref name="work"/> with an engine for the job, waiting for any step already running on it. The engine has
    /// the CLI's settings (<see cref="DashboardOptions.EngineOptionsFor"/>: prices, daily budget, cache mode); for a job
    /// launched or resumed with "no cache" the response cache is not read (answers are still stored), as <c>--no-cache</c>.
    /// A budget stop of the engine is kept for the job page (<see cref="BudgetStop"/>).
    /// </summary>
    public async Task<T> WithEngineAsync<T>(JobRecord job, Func<JobEngine, IBatchClient, Task<T>> work, CancellationToken cancellationToken, bool wait = true)
    {
        var gate = _locks.GetOrAdd(job.Id, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(wait ? Timeout.InfiniteTimeSpan : TimeSpan.Zero, cancellationToken))
        {
            throw new BusyException();
        }

        try
        {
            using var client = await _state.Options.ClientFactory(job.Spec, cancellationToken);
            var options = _state.Options.EngineOptionsFor?.Invoke(job.Spec) ?? new EngineOptions { Costs = _state.Options.Costs };
            options = options with { Costs = WithoutCacheReads(options.Costs, NoCache(job.Id)) };
            var engine = new JobEngine(_state.Options.Store, client, _state.Time, new Observer(this, job.Id), options);
            var result = await work(engine, client);
            if (engine.BudgetStop is { } stop)
            {
                RecordBudgetStop(job.Id, stop);
            }

            return result;
        }
        finally
        {
            gate.Release();
            _state.Index.Invalidate(job.Id);
        }
    }

    /// <summary>Runs work on a job without an engine (delete), waiting for any step already running on it.</summary>
    public async Task LockedAsync(string jobId, Func<Task> work, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(jobId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            await work();
        }
        finally
        {
            gate.Release();
            _state.Index.Invalidate(jobId);
        }
    }

    /// <summary>
    /// Starts a step in the background (submission after a launch or a resume, a synchronous run); failures land in the
    /// activity log. <see cref="StopBackground"/> cancels it (a cancel button must not wait for a long synchronous run).
    /// </summary>
    public void InBackground(JobRecord job, string what, Func<JobEngine, CancellationToken, Task> work, CancellationToken stopping)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _stops.AddOrUpdate(job.Id, stop, (_, _) => stop);
        var task = Task.Run(async () =>
        {
            try
            {
                await WithEngineAsync(job, async (engine, _) =>
                {
                    await work(engine, stop.Token);
                    return 0;
                }, stop.Token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && ex is not OutOfMemoryException)
            {
                var line = Describe(ex);
                Note(job.Id, $"{what} failed: {line}", warning: true);
                Log.ActionFailed(_state.Logger, what, job.Id, line);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                Note(job.Id, $"{what} stopped.");
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                _stops.TryRemove(new KeyValuePair<string, CancellationTokenSource>(job.Id, stop));
                stop.Dispose();
            }
        }, CancellationToken.None);
        _background.TryAdd(task, 0);
        _ = task.ContinueWith(t => _background.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Cancels the background step running on a job, if any (its partial work is kept).</summary>
    public void StopBackground(string jobId)
    {
        if (_stops.TryGetValue(jobId, out var stop))
        {
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>The cost settings with the response cache not read (answers still stored) when <paramref name="noCache"/>; a cache that is off stays off.</summary>
    private static CostOptions WithoutCacheReads(CostOptions costs, bool noCache) =>
        noCache && costs.Cache == CacheMode.ReadWrite ? costs with { Cache = CacheMode.WriteOnly } : costs;

    /// <summary>Remembers that the job was launched or resumed with "no cache": its later sends in this process do not read the cache either.</summary>
    public void SetNoCache(string jobId, bool noCache)
    {
        if (noCache)
        {
            _noCache[jobId] = 0;
        }
        else
        {
            _noCache.TryRemove(jobId, out _);
        }
    }

    private bool NoCache(string jobId) => _noCache.ContainsKey(jobId);

    /// <summary>
    /// The last budget stop of the job in this process (a batch or a chunk of sync requests held back), while it holds:
    /// forgotten when the budget changes or a later submission pass sends everything it planned.
    /// </summary>
    public BudgetRefusal? BudgetStop(string jobId) => _budgetStops.TryGetValue(jobId, out var s) ? s.Stop : null;

    /// <summary>Keeps a budget stop for the job page, with its one line in the activity (said once while it repeats).</summary>
    private void RecordBudgetStop(string jobId, BudgetRefusal stop)
    {
        _budgetStops[jobId] = (stop, _state.Time.GetUtcNow());
        Note(jobId, Pages.JobPage.BudgetStopMessage(stop), warning: true);
    }

    /// <summary>Forgets the job's budget stop (its budget changed): the next pass tries again.</summary>
    public void ClearBudgetStop(string jobId) => _budgetStops.TryRemove(jobId, out _);

    /// <summary>True when this dashboard can send jobs through the synchronous API.</summary>
    public bool CanSync => _state.Options.SyncClientFactory is not null;

    /// <summary>
    /// Sends a sync-mode job's pending items through the synchronous API in the background. When stopped by the user
    /// (cancel), the chunk in flight is settled at once: its answered items are kept, the others go back to Pending.
    /// </summary>
    public void SendSyncInBackground(JobRecord job, SyncSettings settings, CancellationToken stopping)
    {
        var factory = _state.Options.SyncClientFactory ?? throw new InvalidOperationException("this dashboard has no synchronous client");
        var store = _state.Options.Store;
        InBackground(job, "Sending", async (_, token) =>
        {
            var limiter = _state.Options.SyncLimiterFor?.Invoke(job.Spec, settings.RequestsPerMinute, settings.TokensPerMinute)
                ?? new SyncLimiter(_state.Time, settings.RequestsPerMinute, settings.TokensPerMinute);
            using var client = await factory(job.Spec, token);
            var options = _state.Options.SyncOptionsFor?.Invoke(job.Spec) ?? new SyncOptions { Costs = _state.Options.Costs };
            options = options with { Concurrency = settings.Concurrency ?? options.Concurrency, Costs = WithoutCacheReads(options.Costs, NoCache(job.Id)) };
            var runner = new SyncRunner(store, client, limiter, _state.Time, new Observer(this, job.Id), options);
            var current = await store.GetJobAsync(job.Id, token) ?? job;
            try
            {
                var (report, updated) = await JobSteps.RunSyncAsync(store, runner, current, token);
                var cached = report.FromCache > 0 ? $", {report.FromCache:N0} answered from the cache" : string.Empty;
                Note(job.Id, $"Synchronous run: {report.Succeeded:N0} answered, {report.Failed:N0} failed{cached} in {Pages.Html.Duration(report.Elapsed)}; the job is {Pages.Html.StatusLabel(updated.Status).ToLowerInvariant()}.");
                if (report.BudgetStop is { } stop)
                {
                    RecordBudgetStop(job.Id, stop);
                }
                else
                {
                    ClearBudgetStop(job.Id);
                }
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                await SettleOwnChunksAsync(current);
                throw;
            }
        }, stopping);
    }

    /// <summary>Releases this process's synchronous chunks of a job, so their unanswered items go back to Pending now.</summary>
    private async Task SettleOwnChunksAsync(JobRecord job)
    {
        var store = _state.Options.Store;
        foreach (var b in await store.ListBatchesAsync(job.Id, CancellationToken.None))
        {
            if (b.State == BatchState.Submitted && b.ProviderStatus == SyncRunner.SyncStatus && b.LeaseOwner == ProcessIdentity.Current)
            {
                await store.UpdateBatchAsync(b.Id, new BatchUpdate { ClearLease = true }, CancellationToken.None);
            }
        }

        await SyncRunner.SettleInterruptedAsync(store, job, _state.Time, cancellationToken: CancellationToken.None);
    }

    /// <summary>
    /// True when a sync-mode job has items to send and nobody sending them: no chunk of it is held by a live process, and
    /// it has not moved for a while (a CLI run that just created it is about to send them itself).
    /// </summary>
    private bool SyncNeedsSending(JobSummary s, DateTimeOffset now) =>
        CanSync && s.Job.Spec.Mode == JobMode.Sync && s.Job.Status is JobStatus.Pending or JobStatus.Running && s.Counts.Pending > 0
        && now - s.Job.UpdatedAt >= SyncPickUpDelay
        && !(_budgetStops.TryGetValue(s.Id, out var held) && held.Stop.Sync && now - held.At < BudgetRetryDelay)
        && !s.BatchList.Any(b => SyncRunner.IsBeingSent(b, now));

    /// <summary>How long a sync-mode job with unsent items must be left alone before the background engine sends them.</summary>
    public static readonly TimeSpan SyncPickUpDelay = TimeSpan.FromMinutes(1);

    public async Task DrainAsync()
    {
        try
        {
            await Task.WhenAll(_background.Keys.ToList()).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>One background pass: every job with work at the provider is refreshed (polled, collected) and planned batches submitted.</summary>
    public async Task PollAllAsync(CancellationToken cancellationToken)
    {
        var now = _state.Time.GetUtcNow();
        foreach (var s in _state.Index.Current.Jobs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (SyncNeedsSending(s, now) && !IsBusy(s.Id))
            {
                Note(s.Id, "Sending the unsent items through the synchronous API.");
                SendSyncInBackground(s.Job, new SyncSettings(), cancellationToken);
                continue;
            }

            var needsWork = s.ActiveBatches > 0 || s.Job.Status is JobStatus.Running || (s.Job.Status is JobStatus.Pending && s.Counts.Pending > 0 && s.Batches > 0);
            if (!needsWork || IsBusy(s.Id))
            {
                continue;
            }

            try
            {
                await WithEngineAsync(s.Job, async (engine, _) =>
                {
                    var job = await JobSteps.RefreshAsync(engine, s.Job, cancellationToken);
                    if (job.Status is not JobStatus.Cancelled and not JobStatus.Preparing)
                    {
                        await engine.SubmitPlannedAsync(job, cancellationToken);
                        if (engine.BudgetStop is null && job.Spec.Mode == JobMode.Batch)
                        {
                            ClearBudgetStop(job.Id);
                        }

                        await engine.RefreshJobStatusAsync(job, cancellationToken);
                    }

                    return 0;
                }, cancellationToken, wait: false);
            }
            catch (BusyException)
            {
            }
            catch (Exception ex) when (ex is not OperationCanceledException && ex is not OutOfMemoryException)
            {
                var line = Describe(ex);
                Note(s.Id, "Background refresh failed: " + line, warning: true);
                Log.BackgroundFailed(_state.Logger, s.Id, line);
            }
        }
    }

    /// <summary>The one line a user sees for a failure.</summary>
    public static string Describe(Exception ex) => ex switch
    {
        InputException ie => ie.ToUserLine(),
        ProviderException pe => $"{pe.Provider}: {pe.Message}. Nothing is lost: try again later.",
        _ => "internal error: " + ex.Message,
    };

    internal sealed class BusyException : Exception
    {
        public BusyException()
            : base("another step is running on this job")
        {
        }
    }

    private sealed class Observer(JobRunner runner, string jobId) : IEngineObserver
    {
        public void Info(string message)
        {
            runner.Note(jobId, message);
            Log.EngineEvent(runner._state.Logger, jobId, message);
        }

        public void Warn(string message)
        {
            runner.Note(jobId, message, warning: true);
            Log.EngineEvent(runner._state.Logger, jobId, message);
        }
    }
}
