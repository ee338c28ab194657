using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using BatchPilot.Batches;
using BatchPilot.Errors;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using Microsoft.Data.Sqlite;

namespace BatchPilot.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode. Safe across processes (SQLite locking with a busy timeout,
/// writes in <c>BEGIN IMMEDIATE</c> transactions) and across threads of one process (one gate per store).
/// </summary>
public sealed partial class SqliteJobStore : IJobStore
{
    private readonly SqliteConnection _connection;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly string _connectionString;

    private SqliteJobStore(string path, SqliteConnection connection, string connectionString, TimeProvider time)
    {
        Location = path;
        _connection = connection;
        _connectionString = connectionString;
        _time = time;
    }

    /// <inheritdoc/>
    public string Location { get; }

    /// <inheritdoc/>
    public int SchemaVersion => Schema.CurrentVersion;

    /// <summary>Opens (creating if needed) the store file and brings its schema up to date.</summary>
    /// <exception cref="InputException">The file is not a database, is locked, or cannot be written.</exception>
    public static SqliteJobStore Open(string path, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        try
        {
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InputException($"cannot create the store folder ({ex.Message})", ex, file: path, hint: "choose another location with --db or BATCHPILOT_DB", exitCode: ExitCodes.StoreError);
        }

        var cs = new SqliteConnectionStringBuilder { DataSource = full, Pooling = false, DefaultTimeout = 30 }.ToString();
        var connection = new SqliteConnection(cs);
        try
        {
            connection.Open();
            Exec(connection, "PRAGMA busy_timeout=10000;");
            Exec(connection, "PRAGMA journal_mode=WAL;");
            Exec(connection, "PRAGMA synchronous=NORMAL;");
            Exec(connection, "PRAGMA foreign_keys=OFF;");
            Migrate(connection);
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            var what = ex.SqliteErrorCode switch
            {
                26 => "is not a BatchPilot store (not a SQLite database, or corrupt)",
                11 => "is corrupt",
                5 or 6 => "is locked by another program",
                8 or 14 => "cannot be opened for writing",
                _ => $"cannot be opened ({ex.Message})",
            };
            throw new InputException($"the job store {what}", ex, file: path, hint: "point --db (or BATCHPILOT_DB) at another file, or move this one aside", exitCode: ExitCodes.StoreError);
        }

        return new SqliteJobStore(full, connection, cs, time ?? TimeProvider.System);
    }

    private static void Migrate(SqliteConnection c)
    {
        using var tx = c.BeginTransaction(deferred: false);
        using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'";
            var exists = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
            var version = 0;
            if (exists)
            {
                cmd.CommandText = "SELECT coalesce(max(version),0) FROM schema_version";
                version = Convert.ToInt32(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
            }

            if (version > Schema.CurrentVersion)
            {
                throw new InputException($"the job store has schema version {version}, newer than this tool understands ({Schema.CurrentVersion})", hint: "upgrade batchpilot, or use another --db", exitCode: ExitCodes.StoreError);
            }

            for (var v = version; v < Schema.CurrentVersion; v++)
            {
                cmd.CommandText = Schema.Scripts[v];
                cmd.ExecuteNonQuery();
                cmd.CommandText = "DELETE FROM schema_version; INSERT INTO schema_version(version) VALUES ($v)";
                cmd.Parameters.Clear();
                cmd.Parameters.AddWithValue("$v", v + 1);
                cmd.ExecuteNonQuery();
                cmd.Parameters.Clear();
            }
        }

        tx.Commit();
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static DateTimeOffset? FromMs(object value) => value is DBNull or null ? null : DateTimeOffset.FromUnixTimeMilliseconds(Convert.ToInt64(value, CultureInfo.InvariantCulture));

    private static object Db(object? value) => value ?? DBNull.Value;

    private T Run<T>(Func<SqliteConnection, T> work)
    {
        lock (_gate)
        {
            return work(_connection);
        }
    }

    private T Write<T>(Func<SqliteConnection, SqliteTransaction, T> work)
    {
        lock (_gate)
        {
            using var tx = _connection.BeginTransaction(deferred: false);
            var result = work(_connection, tx);
            tx.Commit();
            return result;
        }
    }

    private static SqliteCommand Cmd(SqliteConnection c, SqliteTransaction? tx, string sql)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return cmd;
    }

    // ---------------------------------------------------------------- jobs

    private const string JobColumns = "id, name, fingerprint, status, spec_json, columns_json, total_items, created_at, updated_at, completed_at, budget_usd";

    private static JobRecord ReadJob(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        Name = r.GetString(1),
        Fingerprint = r.GetString(2),
        Status = Enum.Parse<JobStatus>(r.GetString(3)),
        Spec = JsonSerializer.Deserialize(r.GetString(4), StoreJsonContext.Default.JobSpec)!,
        Columns = JsonSerializer.Deserialize(r.GetString(5), StoreJsonContext.Default.StringArray)!,
        TotalItems = r.GetInt64(6),
        CreatedAt = FromMs(r.GetInt64(7)),
        UpdatedAt = FromMs(r.GetInt64(8)),
        CompletedAt = FromMs(r.GetValue(9)),
        BudgetUsd = r.IsDBNull(10) ? null : Usd(r.GetDouble(10)),
    };

    /// <summary>USD amounts are stored as REAL; read back rounded to a nano-dollar so sums compare cleanly.</summary>
    private static decimal Usd(double value) => Math.Round((decimal)value, 9);

    /// <inheritdoc/>
    public Task<JobRecord?> FindJobByFingerprintAsync(string fingerprint, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c => FindByFingerprint(c, null, fingerprint)));

    /// <summary>The newest job with the fingerprint, or null.</summary>
    private static JobRecord? FindByFingerprint(SqliteConnection c, SqliteTransaction? tx, string fingerprint)
    {
        using var cmd = Cmd(c, tx, $"SELECT {JobColumns} FROM jobs WHERE fingerprint=$f ORDER BY created_at DESC LIMIT 1");
        cmd.Parameters.AddWithValue("$f", fingerprint);
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadJob(r) : null;
    }

    /// <inheritdoc/>
    public Task<JobRecord?> GetJobAsync(string idOrName, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c =>
        {
            using (var cmd = Cmd(c, null, $"SELECT {JobColumns} FROM jobs WHERE id=$k"))
            {
                cmd.Parameters.AddWithValue("$k", idOrName);
                using var r = cmd.ExecuteReader();
                if (r.Read())
                {
                    return ReadJob(r);
                }
            }

            foreach (var sql in new[]
            {
                $"SELECT {JobColumns} FROM jobs WHERE id LIKE $k ESCAPE '\\' ORDER BY created_at DESC LIMIT 2",
                $"SELECT {JobColumns} FROM jobs WHERE name=$n ORDER BY created_at DESC LIMIT 2",
            })
            {
                using var cmd = Cmd(c, null, sql);
                cmd.Parameters.AddWithValue("$k", idOrName.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%");
                cmd.Parameters.AddWithValue("$n", idOrName);
                using var r = cmd.ExecuteReader();
                var found = new List<JobRecord>();
                while (r.Read())
                {
                    found.Add(ReadJob(r));
                }

                if (found.Count == 1 || (found.Count > 1 && sql.Contains("name=", StringComparison.Ordinal)))
                {
                    return found[0];
                }

                if (found.Count > 1)
                {
                    throw new InputException($"'{idOrName}' matches several jobs", field: "JOB", hint: "give more characters of the job id (see 'batchpilot jobs')");
                }
            }

            return null;
        }));

    /// <inheritdoc/>
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<JobRecord>>(Run(c =>
        {
            using var cmd = Cmd(c, null, $"SELECT {JobColumns} FROM jobs ORDER BY created_at DESC, id LIMIT $l");
            cmd.Parameters.AddWithValue("$l", limit);
            using var r = cmd.ExecuteReader();
            var list = new List<JobRecord>();
            while (r.Read())
            {
                list.Add(ReadJob(r));
            }

            return list;
        }));

    /// <inheritdoc/>
    public Task CreateJobAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        Write((c, tx) =>
        {
            InsertJob(c, tx, job);
            return 0;
        });
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<JobRecord?> CreateJobUnlessFingerprintExistsAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);

        // One IMMEDIATE transaction: the look-up and the insert cannot interleave with another process's.
        return Task.FromResult(Write((c, tx) =>
        {
            if (FindByFingerprint(c, tx, job.Fingerprint) is { } existing)
            {
                return existing;
            }

            InsertJob(c, tx, job);
            return (JobRecord?)null;
        }));
    }

    private void InsertJob(SqliteConnection c, SqliteTransaction tx, JobRecord job)
    {
        using var cmd = Cmd(c, tx, $"INSERT INTO jobs ({JobColumns}) VALUES ($id,$name,$fp,$st,$spec,$cols,$tot,$ca,$ua,NULL,$bud)");
        cmd.Parameters.AddWithValue("$id", job.Id);
        cmd.Parameters.AddWithValue("$name", job.Name);
        cmd.Parameters.AddWithValue("$fp", job.Fingerprint);
        cmd.Parameters.AddWithValue("$st", job.Status.ToString());
        cmd.Parameters.AddWithValue("$spec", JsonSerializer.Serialize(job.Spec, StoreJsonContext.Default.JobSpec));
        cmd.Parameters.AddWithValue("$cols", JsonSerializer.Serialize(job.Columns.ToArray(), StoreJsonContext.Default.StringArray));
        cmd.Parameters.AddWithValue("$tot", job.TotalItems);
        cmd.Parameters.AddWithValue("$ca", job.CreatedAt.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$ua", job.UpdatedAt.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$bud", Db(job.BudgetUsd is { } b ? (double)b : null));
        cmd.ExecuteNonQuery();
        InsertHistory(c, tx, job.Id, null, "job", job.Status.ToString(), "Job created.");
    }

    /// <inheritdoc/>
    public Task AppendItemsAsync(string jobId, IReadOnlyList<NewItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        Write((c, tx) =>
        {
            using var cmd = Cmd(c, tx, "INSERT INTO items (job_id, seq, custom_id, source_row, row_json, status, attempt) VALUES ($j,$s,$c,$r,$v,0,1) ON CONFLICT(job_id, seq) DO NOTHING");
            var pj = cmd.Parameters.Add("$j", SqliteType.Text);
            var ps = cmd.Parameters.Add("$s", SqliteType.Integer);
            var pc = cmd.Parameters.Add("$c", SqliteType.Text);
            var pr = cmd.Parameters.Add("$r", SqliteType.Integer);
            var pv = cmd.Parameters.Add("$v", SqliteType.Text);
            cmd.Prepare();
            pj.Value = jobId;
            foreach (var item in items)
            {
                ps.Value = item.Seq;
                pc.Value = item.CustomId;
                pr.Value = item.SourceRow;
                pv.Value = JsonSerializer.Serialize(item.Values, StoreJsonContext.Default.StringArray);
                try
                {
                    cmd.ExecuteNonQuery();
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode == 19 && ex.Message.Contains("custom_id", StringComparison.Ordinal))
                {
                    if (!SameItemStored(c, tx, jobId, item))
                    {
                        throw new DuplicateCustomIdException(item.CustomId, item.SourceRow);
                    }
                }
            }

            return 0;
        });
        return Task.CompletedTask;
    }

    /// <summary>True when the item's seq already holds its custom id: another process stored the same row.</summary>
    private static bool SameItemStored(SqliteConnection c, SqliteTransaction tx, string jobId, NewItem item)
    {
        using var cmd = Cmd(c, tx, "SELECT count(*) FROM items WHERE job_id=$j AND seq=$s AND custom_id=$c");
        cmd.Parameters.AddWithValue("$j", jobId);
        cmd.Parameters.AddWithValue("$s", item.Seq);
        cmd.Parameters.AddWithValue("$c", item.CustomId);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    /// <inheritdoc/>
    public Task<long> GetMaxItemSeqAsync(string jobId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c =>
        {
            using var cmd = Cmd(c, null, "SELECT coalesce(max(seq),0) FROM items WHERE job_id=$j");
            cmd.Parameters.AddWithValue("$j", jobId);
            return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }));

    /// <inheritdoc/>
    public Task<bool> TrySetJobStatusAsync(string jobId, IReadOnlyCollection<JobStatus> from, JobStatus to, string reason, long? totalItems = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        return Task.FromResult(Write((c, tx) =>
        {
            var final = to is JobStatus.Completed or JobStatus.CompletedWithErrors or JobStatus.Failed or JobStatus.Cancelled;
            var inList = string.Join(",", from.Select(s => $"'{s}'"));
            using var cmd = Cmd(c, tx, $"UPDATE jobs SET status=$to, updated_at=$now, completed_at={(final ? "$now" : "NULL")}, total_items=coalesce($tot,total_items) WHERE id=$id AND status IN ({inList})");
            cmd.Parameters.AddWithValue("$to", to.ToString());
            cmd.Parameters.AddWithValue("$now", Now());
            cmd.Parameters.AddWithValue("$tot", Db(totalItems));
            cmd.Parameters.AddWithValue("$id", jobId);
            if (cmd.ExecuteNonQuery() != 1)
            {
                return false;
            }

            InsertHistory(c, tx, jobId, null, "job", to.ToString(), reason);
            return true;
        }));
    }

    /// <inheritdoc/>
    public Task DeleteJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        Write((c, tx) =>
        {
            foreach (var table in new[] { "items", "item_attempts", "batches", "history", "response_cache", "jobs" })
            {
                using var cmd = Cmd(c, tx, $"DELETE FROM {table} WHERE {(table == "jobs" ? "id" : "job_id")}=$j");
                cmd.Parameters.AddWithValue("$j", jobId);
                cmd.ExecuteNonQuery();
            }

            return 0;
        });
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<JobCounts> GetCountsAsync(string jobId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c =>
        {
            using var cmd = Cmd(c, null, "SELECT status, count(*), coalesce(sum(input_tokens),0), coalesce(sum(output_tokens),0), coalesce(sum(cached_tokens),0), sum(cache_hit) FROM items WHERE job_id=$j GROUP BY status");
            cmd.Parameters.AddWithValue("$j", jobId);
            using var r = cmd.ExecuteReader();
            var acc = new CountsBuilder();
            while (r.Read())
            {
                acc.Add(r.GetInt32(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5));
            }

            return acc.Build();
        }));

    /// <inheritdoc/>
    public Task<IReadOnlyDictionary<string, JobCounts>> GetAllCountsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyDictionary<string, JobCounts>>(Run(c =>
        {
            using var cmd = Cmd(c, null, "SELECT job_id, status, count(*), coalesce(sum(input_tokens),0), coalesce(sum(output_tokens),0), coalesce(sum(cached_tokens),0), sum(cache_hit) FROM items GROUP BY job_id, status");
            using var r = cmd.ExecuteReader();
            var result = new Dictionary<string, JobCounts>(StringComparer.Ordinal);
            string? current = null;
            var acc = new CountsBuilder();
            while (r.Read())
            {
                var jobId = r.GetString(0);
                if (!string.Equals(jobId, current, StringComparison.Ordinal))
                {
                    if (current is not null)
                    {
                        result[current] = acc.Build();
                    }

                    current = jobId;
                    acc = new CountsBuilder();
                }

                acc.Add(r.GetInt32(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6));
            }

            if (current is not null)
            {
                result[current] = acc.Build();
            }

            return result;
        }));

    /// <summary>Sums the per-status rows of one job into its counts.</summary>
    private sealed class CountsBuilder
    {
        private readonly long[] _n = new long[6];
        private long _in, _out, _cached, _fromCache;

        public void Add(int status, long count, long input, long output, long cached, long fromCache)
        {
            _n[status] = count;
            _in += input;
            _out += output;
            _cached += cached;
            _fromCache += fromCache;
        }

        public JobCounts Build() => new()
        {
            Total = _n.Sum(),
            Pending = _n[(int)ItemStatus.Pending],
            InBatch = _n[(int)ItemStatus.InBatch],
            Succeeded = _n[(int)ItemStatus.Succeeded],
            Failed = _n[(int)ItemStatus.Failed],
            Expired = _n[(int)ItemStatus.Expired],
            Cancelled = _n[(int)ItemStatus.Cancelled],
            InputTokens = _in,
            OutputTokens = _out,
            CachedTokens = _cached,
            FromCache = _fromCache,
        };
    }

    // ---------------------------------------------------------------- items

    private const string ItemColumns = "job_id, seq, custom_id, source_row, row_json, status, attempt, batch_id, result_text, input_tokens, output_tokens, cached_tokens, error_code, error_message, cache_hit, raw_result";

    private static ItemRecord ReadItem(SqliteDataReader r) => new()
    {
        JobId = r.GetString(0),
        Seq = r.GetInt64(1),
        CustomId = r.GetString(2),
        SourceRow = r.GetInt64(3),
        Values = JsonSerializer.Deserialize(r.GetString(4), StoreJsonContext.Default.StringArray)!,
        Status = (ItemStatus)r.GetInt32(5),
        Attempt = r.GetInt32(6),
        BatchId = r.IsDBNull(7) ? null : r.GetInt64(7),
        ResultText = r.IsDBNull(8) ? null : r.GetString(8),
        Usage = r.IsDBNull(9) ? null : new TokenUsage(r.GetInt64(9), r.IsDBNull(10) ? 0 : r.GetInt64(10), r.IsDBNull(11) ? 0 : r.GetInt64(11)),
        ErrorCode = r.IsDBNull(12) ? null : r.GetString(12),
        ErrorMessage = r.IsDBNull(13) ? null : r.GetString(13),
        FromCache = r.GetInt32(14) != 0,
        RawResult = r.IsDBNull(15) ? null : r.GetString(15),
    };

    /// <inheritdoc/>
    public Task<IReadOnlyList<ItemRecord>> ReadPendingItemsAsync(string jobId, long afterSeq, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<ItemRecord>>(Run(c =>
        {
            using var cmd = Cmd(c, null, $"SELECT {ItemColumns} FROM items WHERE job_id=$j AND status=0 AND seq>$a ORDER BY seq LIMIT $l");
            cmd.Parameters.AddWithValue("$j", jobId);
            cmd.Parameters.AddWithValue("$a", afterSeq);
            cmd.Parameters.AddWithValue("$l", limit);
            using var r = cmd.ExecuteReader();
            var list = new List<ItemRecord>(limit);
            while (r.Read())
            {
                list.Add(ReadItem(r));
            }

            return list;
        }));

    /// <inheritdoc/>
    public Task<IReadOnlyList<ItemRecord>> ReadItemsPageAsync(string jobId, ItemStatus? status, long afterSeq, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        return Task.FromResult<IReadOnlyList<ItemRecord>>(Run(c =>
        {
            var filter = status is null ? string.Empty : " AND status=$st";
            using var cmd = Cmd(c, null, $"SELECT {ItemColumns} FROM items WHERE job_id=$j AND seq>$a{filter} ORDER BY seq LIMIT $l");
            cmd.Parameters.AddWithValue("$j", jobId);
            cmd.Parameters.AddWithValue("$a", afterSeq);
            cmd.Parameters.AddWithValue("$l", limit);
            if (status is { } st)
            {
                cmd.Parameters.AddWithValue("$st", (int)st);
            }

            using var r = cmd.ExecuteReader();
            var list = new List<ItemRecord>(Math.Min(limit, 1024));
            while (r.Read())
            {
                list.Add(ReadItem(r));
            }

            return list;
        }));
    }

    /// <inheritdoc/>
    public Task<BatchRecord> CreatePlannedBatchAsync(string jobId, IReadOnlyList<long> seqs, long bytes, string token, CancellationToken cancellationToken = default) =>
        CreatePlannedBatchAsync(jobId, new PlannedBatch { Seqs = seqs, Bytes = bytes, Token = token }, cancellationToken);

    /// <inheritdoc/>
    public Task<BatchRecord> CreatePlannedBatchAsync(string jobId, PlannedBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var seqs = batch.Seqs;
        var bytes = batch.Bytes;
        var token = batch.Token;
        ArgumentNullException.ThrowIfNull(seqs);
        if (batch.CacheKeys is { } k && k.Count != seqs.Count)
        {
            throw new ArgumentException($"{k.Count} cache keys for {seqs.Count} items", nameof(batch));
        }

        var id = Write((c, tx) =>
        {
            long number;
            using (var cmd = Cmd(c, tx, "SELECT coalesce(max(number),0)+1 FROM batches WHERE job_id=$j"))
            {
                cmd.Parameters.AddWithValue("$j", jobId);
                number = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
            }

            long batchId;
            using (var cmd = Cmd(c, tx, "INSERT INTO batches (job_id, number, state, token, request_count, bytes, created_at) VALUES ($j,$n,'Planned',$t,$rc,$b,$now) RETURNING id"))
            {
                cmd.Parameters.AddWithValue("$j", jobId);
                cmd.Parameters.AddWithValue("$n", number);
                cmd.Parameters.AddWithValue("$t", token);
                cmd.Parameters.AddWithValue("$rc", seqs.Count);
                cmd.Parameters.AddWithValue("$b", bytes);
                cmd.Parameters.AddWithValue("$now", Now());
                batchId = Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
            }

            if (batch.CacheKeys is { } keys)
            {
                // Each item records its cache key: one prepared update per item, checked by count like the range
                // update. (A single UPDATE … FROM json_each would be planned as a nested scan: quadratic.)
                using var cmd = Cmd(c, tx, "UPDATE items SET status=1, batch_id=$b, cache_key=$k WHERE job_id=$j AND seq=$s AND status=0");
                cmd.Parameters.AddWithValue("$b", batchId);
                cmd.Parameters.AddWithValue("$j", jobId);
                var ps = cmd.Parameters.Add("$s", SqliteType.Integer);
                var pk = cmd.Parameters.Add("$k", SqliteType.Text);
                cmd.Prepare();
                var updated = 0;
                for (var i = 0; i < seqs.Count; i++)
                {
                    ps.Value = seqs[i];
                    pk.Value = keys[i];
                    updated += cmd.ExecuteNonQuery();
                }

                if (updated != seqs.Count)
                {
                    throw new PlanningConflictException($"batch planning of job {jobId} found {updated} pending items where {seqs.Count} were expected; another process planned at the same time");
                }
            }
            else
            {
                PlanRange(c, tx, jobId, batchId, seqs);
            }

            InsertHistory(c, tx, jobId, batchId, "batch", nameof(BatchState.Planned), $"Batch {number} planned with {seqs.Count} requests ({bytes} bytes).");
            return batchId;
        });
        return Task.FromResult(GetBatchAsync(id, cancellationToken).Result!);
    }

    /// <summary>
    /// Planning reads pending items in seq order, so a batch without cache keys is every pending item of its seq range:
    /// one range update does it, checked by count (another planner would make the counts differ).
    /// </summary>
    private static void PlanRange(SqliteConnection c, SqliteTransaction tx, string jobId, long batchId, IReadOnlyList<long> seqs)
    {
        using var cmd = Cmd(c, tx, "UPDATE items SET status=1, batch_id=$b WHERE job_id=$j AND status=0 AND seq BETWEEN $first AND $last");
        cmd.Parameters.AddWithValue("$b", batchId);
        cmd.Parameters.AddWithValue("$j", jobId);
        cmd.Parameters.AddWithValue("$first", seqs[0]);
        cmd.Parameters.AddWithValue("$last", seqs[^1]);
        var updated = cmd.ExecuteNonQuery();
        if (updated != seqs.Count)
        {
            throw new PlanningConflictException($"batch planning of job {jobId} found {updated} pending items where {seqs.Count} were expected; another process planned at the same time");
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ItemRecord> ReadBatchItemsAsync(long batchId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Cmd(c, null, $"SELECT {ItemColumns} FROM items WHERE batch_id=$b ORDER BY job_id, seq");
        cmd.Parameters.AddWithValue("$b", batchId);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return ReadItem(r);
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ItemRecord> ReadItemsAsync(string jobId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Cmd(c, null, $"SELECT {ItemColumns} FROM items WHERE job_id=$j ORDER BY seq");
        cmd.Parameters.AddWithValue("$j", jobId);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return ReadItem(r);
        }
    }

    // ---------------------------------------------------------------- batches

    private const string BatchColumns = "id, job_id, number, state, token, request_count, bytes, provider_batch_id, provider_status, input_file_id, output_file_id, error_file_id, done_count, failed_count, errors, lease_owner, lease_until, created_at, submitting_at, submitted_at, ended_at, collected_at, not_before, resubmits, input_tokens, output_tokens, cached_tokens, reserved_usd, reserved_at, actual_usd, estimate_usd";

    private static BatchRecord ReadBatch(SqliteDataReader r) => new()
    {
        Id = r.GetInt64(0),
        JobId = r.GetString(1),
        Number = r.GetInt32(2),
        State = Enum.Parse<BatchState>(r.GetString(3)),
        Token = r.GetString(4),
        RequestCount = r.GetInt32(5),
        Bytes = r.GetInt64(6),
        ProviderBatchId = r.IsDBNull(7) ? null : r.GetString(7),
        ProviderStatus = r.IsDBNull(8) ? null : r.GetString(8),
        InputFileId = r.IsDBNull(9) ? null : r.GetString(9),
        OutputFileId = r.IsDBNull(10) ? null : r.GetString(10),
        ErrorFileId = r.IsDBNull(11) ? null : r.GetString(11),
        DoneCount = r.GetInt32(12),
        FailedCount = r.GetInt32(13),
        Errors = r.IsDBNull(14) ? null : r.GetString(14),
        LeaseOwner = r.IsDBNull(15) ? null : r.GetString(15),
        LeaseUntil = FromMs(r.GetValue(16)),
        CreatedAt = FromMs(r.GetInt64(17)),
        SubmittingAt = FromMs(r.GetValue(18)),
        SubmittedAt = FromMs(r.GetValue(19)),
        EndedAt = FromMs(r.GetValue(20)),
        CollectedAt = FromMs(r.GetValue(21)),
        NotBefore = FromMs(r.GetValue(22)),
        Resubmits = r.GetInt32(23),
        Usage = new TokenUsage(r.GetInt64(24), r.GetInt64(25), r.GetInt64(26)),
        ReservedUsd = r.IsDBNull(27) ? null : Usd(r.GetDouble(27)),
        ReservedAt = FromMs(r.GetValue(28)),
        ActualUsd = r.IsDBNull(29) ? null : Usd(r.GetDouble(29)),
        EstimateUsd = r.IsDBNull(30) ? null : Usd(r.GetDouble(30)),
    };

    /// <inheritdoc/>
    public Task<IReadOnlyList<BatchRecord>> ListBatchesAsync(string jobId, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<BatchRecord>>(Run(c =>
        {
            using var cmd = Cmd(c, null, $"SELECT {BatchColumns} FROM batches WHERE job_id=$j ORDER BY number");
            cmd.Parameters.AddWithValue("$j", jobId);
            using var r = cmd.ExecuteReader();
            var list = new List<BatchRecord>();
            while (r.Read())
            {
                list.Add(ReadBatch(r));
            }

            return list;
        }));

    /// <inheritdoc/>
    public Task<BatchRecord?> GetBatchAsync(long batchId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c =>
        {
            using var cmd = Cmd(c, null, $"SELECT {BatchColumns} FROM batches WHERE id=$b");
            cmd.Parameters.AddWithValue("$b", batchId);
            using var r = cmd.ExecuteReader();
            return r.Read() ? ReadBatch(r) : null;
        }));

    /// <inheritdoc/>
    public Task<bool> IsProviderBatchKnownAsync(string providerBatchId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c =>
        {
            using var cmd = Cmd(c, null, "SELECT count(*) FROM batches WHERE provider_batch_id=$p");
            cmd.Parameters.AddWithValue("$p", providerBatchId);
            return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
        }));

    /// <inheritdoc/>
    public Task<bool> TryTransitionBatchAsync(long batchId, IReadOnlyCollection<BatchState> from, BatchState to, BatchUpdate update, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(update);
        return Task.FromResult(Write((c, tx) =>
        {
            var inList = string.Join(",", from.Select(s => $"'{s}'"));
            using var cmd = Cmd(c, tx, string.Empty);
            var sets = BuildSets(cmd, update);
            sets.Add("state=$to");
            cmd.CommandText = $"UPDATE batches SET {string.Join(", ", sets)} WHERE id=$id AND state IN ({inList}) RETURNING job_id";
            cmd.Parameters.AddWithValue("$to", to.ToString());
            cmd.Parameters.AddWithValue("$id", batchId);
            var jobId = cmd.ExecuteScalar() as string;
            if (jobId is null)
            {
                return false;
            }

            InsertHistory(c, tx, jobId, batchId, "batch", to.ToString(), reason);
            return true;
        }));
    }

    /// <inheritdoc/>
    public Task UpdateBatchAsync(long batchId, BatchUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        Write((c, tx) =>
        {
            using var cmd = Cmd(c, tx, string.Empty);
            var sets = BuildSets(cmd, update);
            if (sets.Count == 0)
            {
                return 0;
            }

            cmd.CommandText = $"UPDATE batches SET {string.Join(", ", sets)} WHERE id=$id";
            cmd.Parameters.AddWithValue("$id", batchId);
            return cmd.ExecuteNonQuery();
        });
        return Task.CompletedTask;
    }

    private static List<string> BuildSets(SqliteCommand cmd, BatchUpdate u)
    {
        var sets = new List<string>();
        void Set(string column, object? value)
        {
            if (value is not null)
            {
                sets.Add($"{column}=${column}");
                cmd.Parameters.AddWithValue("$" + column, value);
            }
        }

        Set("provider_batch_id", u.ProviderBatchId);
        Set("provider_status", u.ProviderStatus);
        Set("input_file_id", u.InputFileId);
        Set("output_file_id", u.OutputFileId);
        Set("error_file_id", u.ErrorFileId);
        Set("done_count", u.DoneCount);
        Set("failed_count", u.FailedCount);
        Set("errors", u.Errors);
        Set("lease_owner", u.LeaseOwner);
        Set("lease_until", u.LeaseUntil?.ToUnixTimeMilliseconds());
        Set("submitting_at", u.SubmittingAt?.ToUnixTimeMilliseconds());
        Set("submitted_at", u.SubmittedAt?.ToUnixTimeMilliseconds());
        Set("ended_at", u.EndedAt?.ToUnixTimeMilliseconds());
        Set("collected_at", u.CollectedAt?.ToUnixTimeMilliseconds());
        Set("provider_json", u.ProviderJson);
        Set("token", u.NewToken);
        Set("not_before", u.NotBefore?.ToUnixTimeMilliseconds());
        Set("actual_usd", u.ActualCostUsd is { } actual ? (double)actual : null);
        Set("estimate_usd", u.EstimateUsd is { } estimate ? (double)estimate : null);
        if (u.ClearReservation)
        {
            sets.Add("reserved_usd=NULL");
            sets.Add("reserved_at=NULL");
        }

        if (u.IncrementResubmits)
        {
            sets.Add("resubmits=resubmits+1");
        }

        if (u.ClearProviderBatch)
        {
            sets.AddRange(["provider_batch_id=NULL", "provider_status=NULL", "input_file_id=NULL", "output_file_id=NULL", "error_file_id=NULL",
                "done_count=0", "failed_count=0", "submitting_at=NULL", "submitted_at=NULL", "ended_at=NULL"]);
        }

        if (u.ClearLease)
        {
            sets.Add("lease_owner=NULL");
            sets.Add("lease_until=NULL");
        }

        if (u.ClearInputFile)
        {
            sets.Add("input_file_id=NULL");
        }

        return sets;
    }

    // ---------------------------------------------------------------- results

    /// <inheritdoc/>
    public Task<ApplyResult> ApplyResultsAsync(long batchId, IReadOnlyList<ResultLine> lines, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lines);
        return Task.FromResult(Write((c, tx) =>
        {
            string jobId;
            using (var q = Cmd(c, tx, "SELECT job_id FROM batches WHERE id=$b"))
            {
                q.Parameters.AddWithValue("$b", batchId);
                jobId = (string)(q.ExecuteScalar() ?? throw new InvalidOperationException($"batch {batchId} not found"));
            }

            using var cmd = Cmd(c, tx, """
                UPDATE items SET status=$st, result_text=$t, input_tokens=$it, output_tokens=$ot, cached_tokens=$ct,
                    error_code=$ec, error_message=$em, raw_result=$raw
                WHERE job_id=$j AND custom_id=$c AND batch_id=$b AND status=1
                """);
            cmd.Parameters.AddWithValue("$j", jobId);
            cmd.Parameters.AddWithValue("$b", batchId);
            var pst = cmd.Parameters.Add("$st", SqliteType.Integer);
            var pt = cmd.Parameters.Add("$t", SqliteType.Text);
            var pit = cmd.Parameters.Add("$it", SqliteType.Integer);
            var pot = cmd.Parameters.Add("$ot", SqliteType.Integer);
            var pct = cmd.Parameters.Add("$ct", SqliteType.Integer);
            var pec = cmd.Parameters.Add("$ec", SqliteType.Text);
            var pem = cmd.Parameters.Add("$em", SqliteType.Text);
            var pc = cmd.Parameters.Add("$c", SqliteType.Text);
            var praw = cmd.Parameters.Add("$raw", SqliteType.Text);
            cmd.Prepare();

            using var probe = Cmd(c, tx, "SELECT batch_id FROM items WHERE job_id=$j AND custom_id=$c");
            probe.Parameters.AddWithValue("$j", jobId);
            var probeC = probe.Parameters.Add("$c", SqliteType.Text);

            var applied = 0;
            long input = 0, output = 0, cached = 0;
            List<string>? unknown = null, stale = null, already = null;
            foreach (var line in lines)
            {
                if (line.CustomId is null || line.Kind == ResultKind.Malformed)
                {
                    continue;
                }

                pst.Value = (int)(line.Kind switch
                {
                    ResultKind.Succeeded => ItemStatus.Succeeded,
                    ResultKind.Expired => ItemStatus.Expired,
                    ResultKind.Cancelled => ItemStatus.Cancelled,
                    _ => ItemStatus.Failed,
                });
                pt.Value = Db(line.Text);
                pit.Value = Db(line.Usage?.InputTokens);
                pot.Value = Db(line.Usage?.OutputTokens);
                pct.Value = Db(line.Usage?.CachedTokens);
                pec.Value = Db(line.ErrorCode);
                pem.Value = Db(line.ErrorMessage);
                pc.Value = line.CustomId;
                praw.Value = Db(line.Raw);
                if (cmd.ExecuteNonQuery() == 1)
                {
                    applied++;
                    input += line.Usage?.InputTokens ?? 0;
                    output += line.Usage?.OutputTokens ?? 0;
                    cached += line.Usage?.CachedTokens ?? 0;
                    continue;
                }

                probeC.Value = line.CustomId;
                var owner = probe.ExecuteScalar();
                if (owner is null)
                {
                    (unknown ??= []).Add(line.CustomId);
                }
                else if (owner is DBNull || Convert.ToInt64(owner, CultureInfo.InvariantCulture) != batchId)
                {
                    (stale ??= []).Add(line.CustomId);
                }
                else
                {
                    (already ??= []).Add(line.CustomId);
                }
            }

            if (input + output + cached > 0)
            {
                using var usage = Cmd(c, tx, "UPDATE batches SET input_tokens=input_tokens+$i, output_tokens=output_tokens+$o, cached_tokens=cached_tokens+$c WHERE id=$b");
                usage.Parameters.AddWithValue("$i", input);
                usage.Parameters.AddWithValue("$o", output);
                usage.Parameters.AddWithValue("$c", cached);
                usage.Parameters.AddWithValue("$b", batchId);
                usage.ExecuteNonQuery();
            }

            return new ApplyResult { Applied = applied, Unknown = unknown ?? [], Stale = stale ?? [], AlreadyApplied = already ?? [] };
        }));
    }

    /// <inheritdoc/>
    public Task<int> EndRemainingAsync(long batchId, ItemStatus status, string errorCode, string errorMessage, CancellationToken cancellationToken = default) =>
        Task.FromResult(Write((c, tx) =>
        {
            using var cmd = Cmd(c, tx, "UPDATE items SET status=$st, error_code=$ec, error_message=$em WHERE batch_id=$b AND status=1");
            cmd.Parameters.AddWithValue("$st", (int)status);
            cmd.Parameters.AddWithValue("$ec", errorCode);
            cmd.Parameters.AddWithValue("$em", errorMessage);
            cmd.Parameters.AddWithValue("$b", batchId);
            return cmd.ExecuteNonQuery();
        }));

    /// <inheritdoc/>
    public Task<int> ReleaseBatchItemsAsync(long batchId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Write((c, tx) =>
        {
            using var cmd = Cmd(c, tx, "UPDATE items SET status=0, batch_id=NULL WHERE batch_id=$b AND status=1");
            cmd.Parameters.AddWithValue("$b", batchId);
            return cmd.ExecuteNonQuery();
        }));

    /// <inheritdoc/>
    public Task<int> ElectForRetryAsync(string jobId, IReadOnlyCollection<ItemStatus> statuses, IReadOnlyCollection<string> skipErrorCodes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        ArgumentNullException.ThrowIfNull(skipErrorCodes);
        return Task.FromResult(Write((c, tx) =>
        {
            var inList = string.Join(",", statuses.Select(s => ((int)s).ToString(CultureInfo.InvariantCulture)));
            var skip = skipErrorCodes.Count == 0 ? string.Empty : " AND coalesce(error_code,'') NOT IN (" + string.Join(",", skipErrorCodes.Select((_, i) => "$s" + i.ToString(CultureInfo.InvariantCulture))) + ")";
            var where = $"job_id=$j AND status IN ({inList}){skip}";
            void Bind(SqliteCommand cmd)
            {
                cmd.Parameters.AddWithValue("$j", jobId);
                var i = 0;
                foreach (var code in skipErrorCodes)
                {
                    cmd.Parameters.AddWithValue("$s" + (i++).ToString(CultureInfo.InvariantCulture), code);
                }
            }

            using (var archive = Cmd(c, tx, $"INSERT OR REPLACE INTO item_attempts (job_id, seq, attempt, batch_id, status, error_code, error_message, archived_at) SELECT job_id, seq, attempt, batch_id, status, error_code, error_message, $now FROM items WHERE {where}"))
            {
                Bind(archive);
                archive.Parameters.AddWithValue("$now", Now());
                archive.ExecuteNonQuery();
            }

            using var cmd = Cmd(c, tx, $"UPDATE items SET status=0, attempt=attempt+1, batch_id=NULL, result_text=NULL, input_tokens=NULL, output_tokens=NULL, cached_tokens=NULL, error_code=NULL, error_message=NULL, cache_key=NULL, cache_hit=0, raw_result=NULL WHERE {where}");
            Bind(cmd);
            var n = cmd.ExecuteNonQuery();
            if (n > 0)
            {
                InsertHistory(c, tx, jobId, null, "items", nameof(ItemStatus.Pending), $"{n} item(s) elected for a new attempt.");
            }

            return n;
        }));
    }

    /// <inheritdoc/>
    public Task<int> CancelPendingItemsAsync(string jobId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Write((c, tx) =>
        {
            using var cmd = Cmd(c, tx, "UPDATE items SET status=$st, error_code='cancelled_by_user', error_message='The job was cancelled before this item was sent.' WHERE job_id=$j AND status=0");
            cmd.Parameters.AddWithValue("$st", (int)ItemStatus.Cancelled);
            cmd.Parameters.AddWithValue("$j", jobId);
            return cmd.ExecuteNonQuery();
        }));

    // ---------------------------------------------------------------- response cache

    /// <inheritdoc/>
    public Task<IReadOnlyDictionary<string, CachedAnswer>> FindCachedAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return Task.FromResult<IReadOnlyDictionary<string, CachedAnswer>>(Run(c =>
        {
            var found = new Dictionary<string, CachedAnswer>(StringComparer.Ordinal);
            if (keys.Count == 0)
            {
                return found;
            }

            // One statement for the whole set: the keys go in as a JSON array.
            using var cmd = Cmd(c, null, """
                SELECT key, result_text, input_tokens, output_tokens, cached_tokens, created_at, job_id, custom_id
                FROM response_cache WHERE key IN (SELECT value FROM json_each($keys))
                """);
            cmd.Parameters.AddWithValue("$keys", JsonSerializer.Serialize(keys.ToArray(), StoreJsonContext.Default.StringArray));
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var usage = r.IsDBNull(2) ? (TokenUsage?)null : new TokenUsage(r.GetInt64(2), r.IsDBNull(3) ? 0 : r.GetInt64(3), r.IsDBNull(4) ? 0 : r.GetInt64(4));
                var key = r.GetString(0);
                found[key] = new CachedAnswer(key, r.GetString(1), usage, FromMs(r.GetInt64(5)), r.GetString(6), r.GetString(7));
            }

            return found;
        }));
    }

    /// <inheritdoc/>
    public Task<int> RememberAnswersAsync(long batchId, CancellationToken cancellationToken = default) =>
        Task.FromResult(Write((c, tx) =>
        {
            // One sorted bulk insert per batch: random keys inserted one by one into the unique index, in many small
            // transactions, would rewrite most of its pages every time.
            using var cmd = Cmd(c, tx, """
                INSERT OR REPLACE INTO response_cache (key, result_text, input_tokens, output_tokens, cached_tokens, created_at, job_id, custom_id)
                SELECT cache_key, result_text, input_tokens, output_tokens, cached_tokens, $now, job_id, custom_id FROM items
                WHERE batch_id=$b AND status=$st AND cache_key IS NOT NULL AND cache_hit=0 AND result_text IS NOT NULL
                ORDER BY cache_key
                """);
            cmd.Parameters.AddWithValue("$b", batchId);
            cmd.Parameters.AddWithValue("$st", (int)ItemStatus.Succeeded);
            cmd.Parameters.AddWithValue("$now", Now());
            return cmd.ExecuteNonQuery();
        }));

    /// <inheritdoc/>
    public Task<int> ApplyCacheHitsAsync(string jobId, IReadOnlyList<CacheHit> hits, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hits);
        if (hits.Count == 0)
        {
            return Task.FromResult(0);
        }

        return Task.FromResult(Write((c, tx) =>
        {
            using var cmd = Cmd(c, tx, """
                UPDATE items SET status=$st, result_text=$t, input_tokens=NULL, output_tokens=NULL, cached_tokens=NULL,
                    error_code=NULL, error_message=NULL, cache_key=$k, cache_hit=1, batch_id=NULL
                WHERE job_id=$j AND seq=$s AND status=0
                """);
            cmd.Parameters.AddWithValue("$st", (int)ItemStatus.Succeeded);
            cmd.Parameters.AddWithValue("$j", jobId);
            var pt = cmd.Parameters.Add("$t", SqliteType.Text);
            var pk = cmd.Parameters.Add("$k", SqliteType.Text);
            var ps = cmd.Parameters.Add("$s", SqliteType.Integer);
            cmd.Prepare();
            var n = 0;
            foreach (var hit in hits)
            {
                pt.Value = hit.Text;
                pk.Value = hit.Key;
                ps.Value = hit.Seq;
                n += cmd.ExecuteNonQuery();
            }

            if (n > 0)
            {
                InsertHistory(c, tx, jobId, null, "items", nameof(ItemStatus.Succeeded), $"{n.ToString(CultureInfo.InvariantCulture)} item(s) answered from the response cache (nothing sent).");
            }

            return n;
        }));
    }

    // ---------------------------------------------------------------- budgets

    /// <summary>
    /// Spend of a set of batches: a collected batch counts its settled actual cost; a batch with the provider counts
    /// what it reported so far plus the rest of its reservation; planned and rejected batches count nothing.
    /// </summary>
    private const string SpendSql = """
        SELECT
          coalesce(sum(CASE WHEN state IN ('Collected','Submitting','Submitted','Ended') THEN coalesce(actual_usd,0) ELSE 0 END), 0),
          coalesce(sum(CASE WHEN state IN ('Submitting','Submitted','Ended') THEN max(coalesce(reserved_usd,0) - coalesce(actual_usd,0), 0) ELSE 0 END), 0)
        FROM batches
        """;

    private static Spend ReadSpend(SqliteConnection c, SqliteTransaction? tx, string where, Action<SqliteCommand> bind)
    {
        using var cmd = Cmd(c, tx, SpendSql + " WHERE " + where);
        bind(cmd);
        using var r = cmd.ExecuteReader();
        r.Read();
        return new Spend(Usd(r.GetDouble(0)), Usd(r.GetDouble(1)));
    }

    private static SpendSnapshot ReadSpend(SqliteConnection c, SqliteTransaction? tx, string jobId, DateTimeOffset dayStart)
    {
        var job = ReadSpend(c, tx, "job_id=$j", cmd => cmd.Parameters.AddWithValue("$j", jobId));
        var day = ReadSpend(c, tx, "reserved_at >= $d0 AND reserved_at < $d1", cmd =>
        {
            cmd.Parameters.AddWithValue("$d0", dayStart.ToUnixTimeMilliseconds());
            cmd.Parameters.AddWithValue("$d1", dayStart.AddDays(1).ToUnixTimeMilliseconds());
        });
        return new SpendSnapshot(job, day);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyDictionary<string, BilledUsage>> GetBilledUsageAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyDictionary<string, BilledUsage>>(Run(c =>
        {
            using var cmd = Cmd(c, null, """
                SELECT job_id, coalesce(provider_status, '') = $sync, sum(input_tokens), sum(output_tokens), sum(cached_tokens)
                FROM batches GROUP BY 1, 2
                """);
            cmd.Parameters.AddWithValue("$sync", Running.SyncRunner.SyncStatus);
            using var r = cmd.ExecuteReader();
            var result = new Dictionary<string, BilledUsage>(StringComparer.Ordinal);
            while (r.Read())
            {
                var jobId = r.GetString(0);
                var usage = new TokenUsage(r.GetInt64(2), r.GetInt64(3), r.GetInt64(4));
                var known = result.GetValueOrDefault(jobId);
                result[jobId] = r.GetInt64(1) != 0 ? known with { Sync = usage } : known with { BatchApi = usage };
            }

            return result;
        }));

    /// <inheritdoc/>
    public Task<SpendSnapshot> GetSpendAsync(string jobId, DateTimeOffset dayStart, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c => ReadSpend(c, null, jobId, dayStart)));

    /// <inheritdoc/>
    public Task<ReserveResult> TryReserveAsync(long batchId, IReadOnlyCollection<BatchState> from, BatchState to, BatchUpdate update, BudgetLimits budget, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(budget);
        return Task.FromResult(Write((c, tx) =>
        {
            string? jobId;
            using (var q = Cmd(c, tx, "SELECT job_id FROM batches WHERE id=$b"))
            {
                q.Parameters.AddWithValue("$b", batchId);
                jobId = q.ExecuteScalar() as string;
            }

            if (jobId is null)
            {
                return new ReserveResult { Reserved = false, Spend = new SpendSnapshot(default, default) };
            }

            // Both sums and the claim run in one BEGIN IMMEDIATE transaction: two processes cannot both pass the check.
            var spend = budget.JobLimitUsd is null && budget.DailyLimitUsd is null
                ? new SpendSnapshot(default, default)
                : ReadSpend(c, tx, jobId, budget.DayStart);
            var refused = budget.Refuses(spend);
            if (refused is not null)
            {
                return new ReserveResult { Reserved = false, RefusedBy = refused, Spend = spend };
            }

            var inList = string.Join(",", from.Select(st => $"'{st}'"));
            using var cmd = Cmd(c, tx, string.Empty);
            var sets = BuildSets(cmd, update with { ClearReservation = false });
            sets.Add("state=$to");
            sets.Add("reserved_usd=$ru");
            sets.Add("reserved_at=$ra");
            cmd.CommandText = $"UPDATE batches SET {string.Join(", ", sets)} WHERE id=$id AND state IN ({inList})";
            cmd.Parameters.AddWithValue("$to", to.ToString());
            cmd.Parameters.AddWithValue("$id", batchId);
            cmd.Parameters.AddWithValue("$ru", Db(budget.AmountUsd is { } a ? (double)a : null));
            cmd.Parameters.AddWithValue("$ra", Now());
            if (cmd.ExecuteNonQuery() != 1)
            {
                return new ReserveResult { Reserved = false, Spend = spend };
            }

            InsertHistory(c, tx, jobId, batchId, "batch", to.ToString(), reason);
            return new ReserveResult { Reserved = true, Spend = spend };
        }));
    }

    /// <inheritdoc/>
    public Task<bool> SetJobBudgetAsync(string jobId, decimal? budgetUsd, string reason, CancellationToken cancellationToken = default) =>
        Task.FromResult(Write((c, tx) =>
        {
            using var cmd = Cmd(c, tx, "UPDATE jobs SET budget_usd=$b, updated_at=$now WHERE id=$id");
            cmd.Parameters.AddWithValue("$b", Db(budgetUsd is { } b ? (double)b : null));
            cmd.Parameters.AddWithValue("$now", Now());
            cmd.Parameters.AddWithValue("$id", jobId);
            if (cmd.ExecuteNonQuery() != 1)
            {
                return false;
            }

            InsertHistory(c, tx, jobId, null, "job", "Budget", reason);
            return true;
        }));

    /// <inheritdoc/>
    public Task<int> EndPendingItemsAsync(string jobId, IReadOnlyList<ResultLine> lines, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lines);
        return Task.FromResult(Write((c, tx) =>
        {
            using var cmd = Cmd(c, tx, "UPDATE items SET status=$st, error_code=$ec, error_message=$em WHERE job_id=$j AND custom_id=$c AND status=0");
            cmd.Parameters.AddWithValue("$j", jobId);
            var pst = cmd.Parameters.Add("$st", SqliteType.Integer);
            var pec = cmd.Parameters.Add("$ec", SqliteType.Text);
            var pem = cmd.Parameters.Add("$em", SqliteType.Text);
            var pc = cmd.Parameters.Add("$c", SqliteType.Text);
            cmd.Prepare();
            var n = 0;
            foreach (var line in lines)
            {
                if (line.CustomId is null)
                {
                    continue;
                }

                pst.Value = (int)(line.Kind switch
                {
                    ResultKind.Cancelled => ItemStatus.Cancelled,
                    ResultKind.Expired => ItemStatus.Expired,
                    _ => ItemStatus.Failed,
                });
                pec.Value = Db(line.ErrorCode);
                pem.Value = Db(line.ErrorMessage);
                pc.Value = line.CustomId;
                n += cmd.ExecuteNonQuery();
            }

            if (n > 0)
            {
                InsertHistory(c, tx, jobId, null, "items", "NotSent", reason);
            }

            return n;
        }));
    }

    // ---------------------------------------------------------------- history

    private void InsertHistory(SqliteConnection c, SqliteTransaction tx, string jobId, long? batchId, string kind, string state, string reason)
    {
        using var cmd = Cmd(c, tx, "INSERT INTO history (job_id, batch_id, at, kind, state, reason) VALUES ($j,$b,$at,$k,$s,$r)");
        cmd.Parameters.AddWithValue("$j", jobId);
        cmd.Parameters.AddWithValue("$b", Db(batchId));
        cmd.Parameters.AddWithValue("$at", Now());
        cmd.Parameters.AddWithValue("$k", kind);
        cmd.Parameters.AddWithValue("$s", state);
        cmd.Parameters.AddWithValue("$r", reason);
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc/>
    public Task AddHistoryAsync(HistoryEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Write((c, tx) =>
        {
            InsertHistory(c, tx, entry.JobId, entry.BatchId, entry.Kind, entry.State, entry.Reason);
            return 0;
        });
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<HistoryEntry>> GetHistoryAsync(string jobId, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<HistoryEntry>>(Run(c =>
        {
            using var cmd = Cmd(c, null, "SELECT job_id, batch_id, at, kind, state, reason FROM history WHERE job_id=$j ORDER BY id");
            cmd.Parameters.AddWithValue("$j", jobId);
            using var r = cmd.ExecuteReader();
            var list = new List<HistoryEntry>();
            while (r.Read())
            {
                list.Add(new HistoryEntry
                {
                    JobId = r.GetString(0),
                    BatchId = r.IsDBNull(1) ? null : r.GetInt64(1),
                    At = FromMs(r.GetInt64(2)),
                    Kind = r.GetString(3),
                    State = r.GetString(4),
                    Reason = r.GetString(5),
                });
            }

            return list;
        }));

    /// <inheritdoc/>
    public Task<JobChanges> ListJobsUpdatedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run(c =>
        {
            // One pass over the jobs table that decodes only the rows that changed (their JSON columns are the costly part).
            var list = new List<JobRecord>();
            using (var cmd = Cmd(c, null, $"SELECT {JobColumns} FROM jobs WHERE updated_at >= $s ORDER BY created_at DESC, id"))
            {
                cmd.Parameters.AddWithValue("$s", since.ToUnixTimeMilliseconds());
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    list.Add(ReadJob(r));
                }
            }

            using var count = Cmd(c, null, "SELECT count(*) FROM jobs");
            return new JobChanges(list, Convert.ToInt32(count.ExecuteScalar(), CultureInfo.InvariantCulture));
        }));

    /// <inheritdoc/>
    public void Dispose() => _connection.Dispose();
}
