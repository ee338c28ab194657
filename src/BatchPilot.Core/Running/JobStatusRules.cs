using BatchPilot.Jobs;
using BatchPilot.Storage;

namespace BatchPilot.Running;

/// <summary>How a job's status follows from its items (shared by batch and sync mode).</summary>
public static class JobStatusRules
{
    /// <summary>Recomputes the job status from its items. A cancelled job stays cancelled.</summary>
    public static async Task<JobRecord> RefreshAsync(IJobStore store, JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        var current = await store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? job;
        if (current.Status is JobStatus.Preparing or JobStatus.Cancelled)
        {
            return current;
        }

        var c = await store.GetCountsAsync(job.Id, cancellationToken).ConfigureAwait(false);
        var batches = await store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false);
        JobStatus target;
        if (c.Pending + c.InBatch > 0)
        {
            target = batches.Count == 0 ? JobStatus.Pending : JobStatus.Running;
        }
        else if (c.Succeeded == c.Total)
        {
            target = JobStatus.Completed;
        }
        else if (c.Succeeded == 0)
        {
            target = JobStatus.Failed;
        }
        else
        {
            target = JobStatus.CompletedWithErrors;
        }

        if (target != current.Status)
        {
            var reason = target switch
            {
                JobStatus.Completed => $"All {c.Total} items succeeded.",
                JobStatus.CompletedWithErrors => $"{c.Succeeded} of {c.Total} items succeeded; {c.Failed} failed, {c.Expired} expired, {c.Cancelled} cancelled.",
                JobStatus.Failed => $"No item succeeded ({c.Failed} failed, {c.Expired} expired, {c.Cancelled} cancelled).",
                _ => "Work in progress.",
            };
            await store.TrySetJobStatusAsync(job.Id, [current.Status], target, reason, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return await store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? current;
    }
}
