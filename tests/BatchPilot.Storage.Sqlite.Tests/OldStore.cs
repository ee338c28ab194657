using Microsoft.Data.Sqlite;

namespace BatchPilot.Storage.Sqlite.Tests;

/// <summary>Stores as an earlier version of the tool left them: its first migration scripts only, then some rows.</summary>
internal static class OldStore
{
    /// <summary>One completed job ('job-old') with one collected batch and two answered items (with usage).</summary>
    public const string OneJob = """
        INSERT INTO jobs (id, name, fingerprint, status, spec_json, columns_json, total_items, created_at, updated_at)
          VALUES ('job-old', 'old', 'fp', 'Completed', '{"InputPath":"in.csv","InputSha256":"h","Provider":"openai","Model":"gpt-4o-mini","Prompt":"{{a}}","Endpoint":"emulator"}', '["a"]', 2, 1, 1);
        INSERT INTO batches (job_id, number, state, token, request_count, bytes, created_at, submitting_at) VALUES ('job-old', 1, 'Collected', 'tok', 2, 10, 1, 5000);
        INSERT INTO items (job_id, seq, custom_id, source_row, row_json, status, batch_id, result_text, input_tokens, output_tokens, cached_tokens)
          VALUES ('job-old', 1, 'row-1', 2, '["x"]', 2, 1, 'a', 10, 20, 5), ('job-old', 2, 'row-2', 3, '["y"]', 2, 1, 'b', 1, 2, 0);
        """;

    /// <summary>Writes a store of schema <paramref name="version"/> at <paramref name="path"/>, then runs <paramref name="sql"/> in it.</summary>
    public static void Create(string path, int version, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = string.Concat(Schema.Scripts.Take(version)) + $"INSERT INTO schema_version(version) VALUES ({version});" + sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>The version a store file records.</summary>
    public static long VersionOf(string path)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT version FROM schema_version";
        return (long)cmd.ExecuteScalar()!;
    }
}
