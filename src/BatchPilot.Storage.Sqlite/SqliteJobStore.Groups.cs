using BatchPilot.Errors;
using BatchPilot.Jobs;
using Microsoft.Data.Sqlite;

namespace BatchPilot.Storage.Sqlite;

/// <summary>Comparison groups (schema v4): <c>job_groups</c> and <c>job_group_members</c>.</summary>
public sealed partial class SqliteJobStore : IGroupStore
{
    private const string GroupColumns = "id, name, fingerprint, created_at";

    /// <inheritdoc/>
    public Task CreateGroupAsync(GroupRecord group, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(group);
        Write((c, tx) =>
        {
            using (var cmd = Cmd(c, tx, $"INSERT INTO job_groups ({GroupColumns}) VALUES ($id,$name,$fp,$ca)"))
            {
                cmd.Parameters.AddWithValue("$id", group.Id);
                cmd.Parameters.AddWithValue("$name", group.Name);
                cmd.Parameters.AddWithValue("$fp", group.Fingerprint);
                cmd.Parameters.AddWithValue("$ca", group.CreatedAt.ToUnixTimeMilliseconds());
                cmd.ExecuteNonQuery();
            }

            foreach (var m in group.Members)
            {
                using var cmd = Cmd(c, tx, "INSERT INTO job_group_members (group_id, position, label, job_id, fingerprint) VALUES ($g,$p,$l,$j,$f)");
                cmd.Parameters.AddWithValue("$g", group.Id);
                cmd.Parameters.AddWithValue("$p", m.Position);
                cmd.Parameters.AddWithValue("$l", m.Label);
                cmd.Parameters.AddWithValue("$j", m.JobId);
                cmd.Parameters.AddWithValue("$f", m.Fingerprint);
                try
                {
                    cmd.ExecuteNonQuery();
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
                {
                    throw new InvalidOperationException($"job {m.JobId} already belongs to another comparison group", ex);
                }

                InsertHistory(c, tx, m.JobId, null, "group", "Variant", $"Variant '{m.Label}' of comparison {group.Id} ({group.Name}).");
            }

            return 0;
        });
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<GroupRecord?> FindGroupByFingerprintAsync(string fingerprint, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c => ReadGroups(c, $"SELECT {GroupColumns} FROM job_groups WHERE fingerprint=$k ORDER BY created_at DESC, id LIMIT 1", fingerprint).FirstOrDefault()));

    /// <inheritdoc/>
    public Task<GroupRecord?> GetGroupAsync(string idOrName, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c =>
        {
            if (ReadGroups(c, $"SELECT {GroupColumns} FROM job_groups WHERE id=$k", idOrName).FirstOrDefault() is { } exact)
            {
                return exact;
            }

            var escaped = idOrName.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
            var byPrefix = ReadGroups(c, $"SELECT {GroupColumns} FROM job_groups WHERE id LIKE $k ESCAPE '\\' ORDER BY created_at DESC LIMIT 2", escaped);
            if (byPrefix.Count > 1)
            {
                throw new InputException($"'{idOrName}' matches several comparison groups", field: "JOB", hint: "give more characters of the group id (see 'batchpilot jobs')");
            }

            return byPrefix.Count == 1
                ? byPrefix[0]
                : ReadGroups(c, $"SELECT {GroupColumns} FROM job_groups WHERE name=$k ORDER BY created_at DESC, id LIMIT 1", idOrName).FirstOrDefault();
        }));

    /// <inheritdoc/>
    public Task<GroupRecord?> GetGroupOfJobAsync(string jobId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c => ReadGroups(c, $"SELECT {GroupColumns} FROM job_groups WHERE id=(SELECT group_id FROM job_group_members WHERE job_id=$k)", jobId).FirstOrDefault()));

    /// <inheritdoc/>
    public Task<IReadOnlyList<GroupRecord>> ListGroupsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Run<IReadOnlyList<GroupRecord>>(c =>
        {
            // One pass over groups and members together (a group without members still appears, with none).
            var groups = new List<GroupRecord>();
            using var cmd = Cmd(c, null, "SELECT g.id, g.name, g.fingerprint, g.created_at, m.position, m.label, m.job_id, m.fingerprint FROM job_groups g "
                + "LEFT JOIN job_group_members m ON m.group_id = g.id ORDER BY g.created_at, g.id, m.position");
            using var r = cmd.ExecuteReader();
            List<GroupMember>? members = null;
            while (r.Read())
            {
                var id = r.GetString(0);
                if (groups.Count == 0 || groups[^1].Id != id)
                {
                    members = [];
                    groups.Add(new GroupRecord { Id = id, Name = r.GetString(1), Fingerprint = r.GetString(2), CreatedAt = FromMs(r.GetInt64(3)), Members = members });
                }

                if (!r.IsDBNull(4))
                {
                    members!.Add(new GroupMember(r.GetInt32(4), r.GetString(5), r.GetString(6), r.GetString(7)));
                }
            }

            return groups;
        }));

    /// <inheritdoc/>
    public Task DeleteGroupAsync(string groupId, CancellationToken cancellationToken = default)
    {
        Write((c, tx) =>
        {
            foreach (var sql in new[] { "DELETE FROM job_group_members WHERE group_id=$g", "DELETE FROM job_groups WHERE id=$g" })
            {
                using var cmd = Cmd(c, tx, sql);
                cmd.Parameters.AddWithValue("$g", groupId);
                cmd.ExecuteNonQuery();
            }

            return 0;
        });
        return Task.CompletedTask;
    }

    /// <summary>Groups selected by <paramref name="sql"/> (one parameter, <c>$k</c>), each with its members in order.</summary>
    private static List<GroupRecord> ReadGroups(SqliteConnection c, string sql, string key)
    {
        var rows = new List<(string Id, string Name, string Fingerprint, long CreatedAt)>();
        using (var cmd = Cmd(c, null, sql))
        {
            cmd.Parameters.AddWithValue("$k", key);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                rows.Add((r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3)));
            }
        }

        var groups = new List<GroupRecord>(rows.Count);
        foreach (var (id, name, fingerprint, createdAt) in rows)
        {
            var members = new List<GroupMember>();
            using var cmd = Cmd(c, null, "SELECT position, label, job_id, fingerprint FROM job_group_members WHERE group_id=$g ORDER BY position");
            cmd.Parameters.AddWithValue("$g", id);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                members.Add(new GroupMember(r.GetInt32(0), r.GetString(1), r.GetString(2), r.GetString(3)));
            }

            groups.Add(new GroupRecord { Id = id, Name = name, Fingerprint = fingerprint, CreatedAt = FromMs(createdAt), Members = members });
        }

        return groups;
    }
}
