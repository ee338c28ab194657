using BatchPilot.Batches;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Running;
using BatchPilot.Storage;

namespace BatchPilot.Operations;

/// <summary>
/// The engine sequences behind the user verbs (submit, refresh/check, collect, resume, cancel), so that a CLI verb and
/// a dashboard button run exactly the same steps. Every step is idempotent: two processes may run them side by side.
/// </summary>
public static class JobSteps
{
    /// <summary>Plans and submits what is pending, after reconciling interrupted submissions, then recomputes the status.</summary>
    public static async Task<JobRecord> SubmitAsync(JobEngine engine, JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(job);
        await engine.ReconcileAsync(job, cancellationToken).ConfigureAwait(false);
        await engine.PlanAsync(job, cancellationToken).ConfigureAwait(false);
        await engine.SubmitPlannedAsync(job, cancellationToken).ConfigureAwait(false);
        return await engine.RefreshJobStatusAsync(job, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One refresh ("Actualiser"/"Vérifier"): reconcile, poll the provider, collect ended batches, recompute the status.</summary>
    public static Task<JobRecord> RefreshAsync(JobEngine engine, JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return engine.StepAsync(job, cancellationToken);
    }

    /// <summary>"Traiter les batches terminés" for one job: reconcile, poll, collect every ended batch, recompute the status.</summary>
    public static async Task<(CollectReport Report, JobRecord Job)> CollectAsync(JobEngine engine, JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(job);
        await engine.ReconcileAsync(job, cancellationToken).ConfigureAwait(false);
        await engine.PollAsync(job, cancellationToken).ConfigureAwait(false);
        var report = await engine.CollectAsync(job, cancellationToken).ConfigureAwait(false);
        var updated = await engine.RefreshJobStatusAsync(job, cancellationToken).ConfigureAwait(false);
        return (report, updated);
    }

    /// <summary>True when <c>collect --all</c> has something to do for a job: a batch is at the provider or has ended.</summary>
    public static bool HasBatchesToCollect(IReadOnlyList<BatchRecord> batches) => HasInFlight(batches);

    /// <summary>
    /// True while a batch of the job is with the provider (being submitted, submitted, or ended and not yet collected):
    /// what a run still waits for once a budget holds the planned batches back.
    /// </summary>
    public static bool HasInFlight(IReadOnlyList<BatchRecord> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        return batches.Any(b => b.State is BatchState.Submitting or BatchState.Submitted or BatchState.Ended);
    }

    /// <summary>True while a batch of the job is still with the provider or waiting to be sent.</summary>
    public static bool HasActive(IReadOnlyList<BatchRecord> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        return batches.Any(b => b.IsActive);
    }

    /// <summary>
    /// "Reprendre": refreshes the job, elects its failed, expired and cancelled items for a new attempt and submits them.
    /// Returns how many items will be sent again (0: nothing to resume).
    /// </summary>
    /// <exception cref="InputException">The job is still reading its input.</exception>
    public static async Task<int> ResumeAsync(JobEngine engine, IJobStore store, JobRecord job, bool includeInvalid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        if (job.Status == JobStatus.Preparing)
        {
            throw new InputException($"job {job.Id} is still reading its input", field: "JOB", hint: "rerun the original 'batchpilot run' command to finish it");
        }

        job = await RefreshAsync(engine, job, cancellationToken).ConfigureAwait(false);
        var n = await engine.ResumeAsync(job, includeInvalid, cancellationToken).ConfigureAwait(false);
        job = await store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? job;
        await SubmitAsync(engine, job, cancellationToken).ConfigureAwait(false);
        return n;
    }

    /// <summary>
    /// Sends a job's pending items through the synchronous API (sync mode, or a resume in sync mode), then recomputes the
    /// status. Chunks another process is sending are left to it; a chunk whose process died is settled first.
    /// </summary>
    public static async Task<(SyncReport Report, JobRecord Job)> RunSyncAsync(IJobStore store, SyncRunner runner, JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(job);
        await store.TrySetJobStatusAsync(job.Id, [JobStatus.Pending, JobStatus.CompletedWithErrors, JobStatus.Failed, JobStatus.Completed], JobStatus.Running, "Sending through the synchronous API.", cancellationToken: cancellationToken).ConfigureAwait(false);
        var report = await runner.RunAsync(job, cancellationToken).ConfigureAwait(false);
        return (report, await JobStatusRules.RefreshAsync(store, job, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Cancels a job after reconciling interrupted submissions: unsent items are cancelled, batches in flight are asked to
    /// stop. Returns how many batches were asked to stop; a job that has already ended is left as it is (returns -1).
    /// </summary>
    public static async Task<int> CancelAsync(JobEngine engine, JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(job);
        if (job.Status is JobStatus.Completed or JobStatus.CompletedWithErrors or JobStatus.Failed or JobStatus.Cancelled)
        {
            return -1;
        }

        await engine.ReconcileAsync(job, cancellationToken).ConfigureAwait(false);
        return await engine.CancelAsync(job, cancellationToken).ConfigureAwait(false);
    }
}
