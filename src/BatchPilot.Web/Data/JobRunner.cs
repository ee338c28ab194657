using System.Collections.Concurrent;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Web.Hosting;

namespace BatchPilot.Web.Data;

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
            list.AddLast(new Activity(_state.Time.GetUtcNow(), message, warning));
            while (list.Count > ActivityKept)
            {
                list.RemoveFirst();
            }
        }
    }

    /// <summary>True when a step is running on the job in this process.</summary>
    public bool IsBusy(string jobId) => _locks.TryGetValue(jobId, out var gate) && gate.CurrentCount == 0;

    /// <summary>Runs <paramref name="work"/> with an engine for the job, waiting for any step already running on it.</summary>
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
            var engine = new JobEngine(_state.Options.Store, client, _state.Time, new Observer(this, job.Id));
            return await work(engine, client);
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

    /// <summary>Starts a step in the background (submission after a launch or a resume); failures land in the activity log.</summary>
    public void InBackground(JobRecord job, string what, Func<JobEngine, CancellationToken, Task> work, CancellationToken stopping)
    {
        var task = Task.Run(async () =>
        {
            try
            {
                await WithEngineAsync(job, async (engine, _) =>
                {
                    await work(engine, stopping);
                    return 0;
                }, stopping);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && ex is not OutOfMemoryException)
            {
                var line = Describe(ex);
                Note(job.Id, $"{what} failed: {line}", warning: true);
                Log.ActionFailed(_state.Logger, what, job.Id, line);
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None);
        _background.TryAdd(task, 0);
        _ = task.ContinueWith(t => _background.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

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
        foreach (var s in _state.Index.Current.Jobs)
        {
            cancellationToken.ThrowIfCancellationRequested();
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
