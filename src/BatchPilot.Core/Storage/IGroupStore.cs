using BatchPilot.Jobs;

namespace BatchPilot.Storage;

/// <summary>
/// The comparison groups of a job store (a capability beside <see cref="IJobStore"/>): a group row and its members,
/// each naming a child job. A job belongs to at most one group. Deleting a job leaves its member row, so the group's
/// next run creates that variant again under the same id.
/// </summary>
public interface IGroupStore
{
    /// <summary>
    /// Inserts a group and all its members in one transaction, with a history row on each child ("variant of").
    /// Throws <see cref="InvalidOperationException"/> when a member's job already belongs to another group.
    /// </summary>
    Task CreateGroupAsync(GroupRecord group, CancellationToken cancellationToken = default);

    /// <summary>The newest group with this fingerprint.</summary>
    Task<GroupRecord?> FindGroupByFingerprintAsync(string fingerprint, CancellationToken cancellationToken = default);

    /// <summary>Finds a group by id, unique id prefix, or name (the newest of that name).</summary>
    Task<GroupRecord?> GetGroupAsync(string idOrName, CancellationToken cancellationToken = default);

    /// <summary>The group a job belongs to, if any.</summary>
    Task<GroupRecord?> GetGroupOfJobAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every group with its members, oldest first, read at once: what a long-lived reader (the dashboard's job list) needs
    /// to show each job's group and variant without one query per job.
    /// </summary>
    Task<IReadOnlyList<GroupRecord>> ListGroupsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a group and its member rows; its jobs are left as they are.</summary>
    Task DeleteGroupAsync(string groupId, CancellationToken cancellationToken = default);
}
