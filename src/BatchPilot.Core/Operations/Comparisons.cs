using BatchPilot.Jobs;
using BatchPilot.Storage;

namespace BatchPilot.Operations;

/// <summary>One variant of a comparison group with its job (null when the job was deleted; the group's next run creates it again).</summary>
/// <param name="Label">The variant's label (the model id, or <c>model/prompt</c>).</param>
/// <param name="JobId">The job id the group reserved for the variant.</param>
/// <param name="Job">The job, or null when it was deleted.</param>
public sealed record ComparisonVariant(string Label, string JobId, JobRecord? Job);

/// <summary>
/// What the group verbs (<c>status grp-…</c>, <c>export grp-…</c>…) and the dashboard's group page read of a comparison
/// group: its variants with their jobs, in order, and the group's status.
/// </summary>
public static class Comparisons
{
    /// <summary>The group's variants in order, each with its job (null when the job was deleted).</summary>
    public static async Task<IReadOnlyList<ComparisonVariant>> VariantsAsync(IJobStore store, GroupRecord group, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(group);
        var result = new List<ComparisonVariant>(group.Members.Count);
        foreach (var m in group.Members)
        {
            var job = await store.GetJobAsync(m.JobId, cancellationToken).ConfigureAwait(false);
            result.Add(new ComparisonVariant(m.Label, m.JobId, job is not null && job.Id == m.JobId ? job : null));
        }

        return result;
    }

    /// <summary>
    /// The group's status: its jobs' common status, else Running while any is unfinished, else CompletedWithErrors
    /// (also when a variant's job was deleted).
    /// </summary>
    public static JobStatus StatusOf(IReadOnlyList<JobStatus> statuses, bool missing)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        if (statuses.Count > 0 && !missing && statuses.All(s => s == statuses[0]))
        {
            return statuses[0];
        }

        return statuses.Any(s => s is JobStatus.Preparing or JobStatus.Pending or JobStatus.Running) ? JobStatus.Running : JobStatus.CompletedWithErrors;
    }
}
