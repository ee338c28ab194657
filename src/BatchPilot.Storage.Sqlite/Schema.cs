namespace BatchPilot.Storage.Sqlite;

/// <summary>Versioned schema scripts. A new version appends a script; existing ones never change.</summary>
internal static class Schema
{
    public const int CurrentVersion = 5;

    public static readonly string[] Scripts =
    [
        """
        CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            spec_json TEXT NOT NULL,
            columns_json TEXT NOT NULL,
            total_items INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            completed_at INTEGER
        );
        CREATE INDEX jobs_fingerprint ON jobs(fingerprint);
        CREATE INDEX jobs_name ON jobs(name);
        CREATE TABLE items (
            job_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            custom_id TEXT NOT NULL,
            source_row INTEGER NOT NULL,
            row_json TEXT NOT NULL,
            status INTEGER NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 1,
            batch_id INTEGER,
            result_text TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cached_tokens INTEGER,
            error_code TEXT,
            error_message TEXT,
            PRIMARY KEY (job_id, seq)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX items_custom_id ON items(job_id, custom_id);
        CREATE INDEX items_batch ON items(batch_id) WHERE batch_id IS NOT NULL;
        CREATE TABLE item_attempts (
            job_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            batch_id INTEGER,
            status INTEGER NOT NULL,
            error_code TEXT,
            error_message TEXT,
            archived_at INTEGER NOT NULL,
            PRIMARY KEY (job_id, seq, attempt)
        ) WITHOUT ROWID;
        CREATE TABLE batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            state TEXT NOT NULL,
            token TEXT NOT NULL UNIQUE,
            request_count INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            provider_batch_id TEXT UNIQUE,
            provider_status TEXT,
            input_file_id TEXT,
            output_file_id TEXT,
            error_file_id TEXT,
            done_count INTEGER NOT NULL DEFAULT 0,
            failed_count INTEGER NOT NULL DEFAULT 0,
            errors TEXT,
            lease_owner TEXT,
            lease_until INTEGER,
            created_at INTEGER NOT NULL,
            submitting_at INTEGER,
            submitted_at INTEGER,
            ended_at INTEGER,
            collected_at INTEGER,
            provider_json TEXT
        );
        CREATE INDEX batches_job ON batches(job_id, number);
        CREATE TABLE history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL,
            batch_id INTEGER,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX history_job ON history(job_id, id);
        """,

        // v2: batches refused for a full enqueued-token queue are planned again after a delay.
        """
        ALTER TABLE batches ADD COLUMN not_before INTEGER;
        ALTER TABLE batches ADD COLUMN resubmits INTEGER NOT NULL DEFAULT 0;
        """,

        // v3: raw jobs (batchpilot submit-file) keep the provider's result line of each item, to write it back verbatim.
        """
        ALTER TABLE items ADD COLUMN raw_result TEXT;
        """,

        // v4: comparison groups (run --model a,b / several prompts): a group row and one member row per child job.
        // A member's job id is reserved before the job exists, so a rerun after a crash finds its own children.
        // IF NOT EXISTS: the script only creates, so it may run again over a store rolled back to an older version.
        """
        CREATE TABLE IF NOT EXISTS job_groups (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS job_groups_fingerprint ON job_groups(fingerprint);
        CREATE INDEX IF NOT EXISTS job_groups_name ON job_groups(name);
        CREATE TABLE IF NOT EXISTS job_group_members (
            group_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            label TEXT NOT NULL,
            job_id TEXT NOT NULL UNIQUE,
            fingerprint TEXT NOT NULL,
            PRIMARY KEY (group_id, position)
        ) WITHOUT ROWID;
        """,

        // v5: the response cache and budgets. Items remember their cache key (written to the cache with their result)
        // and whether they were answered from it; batches carry the usage billed for them, the estimate reserved
        // against the budgets when claimed, and the actual cost settled when collected; jobs carry their budget.
        """
        ALTER TABLE jobs ADD COLUMN budget_usd REAL;
        ALTER TABLE items ADD COLUMN cache_key TEXT;
        ALTER TABLE items ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE batches ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE batches ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE batches ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE batches ADD COLUMN estimate_usd REAL;
        ALTER TABLE batches ADD COLUMN reserved_usd REAL;
        ALTER TABLE batches ADD COLUMN reserved_at INTEGER;
        ALTER TABLE batches ADD COLUMN actual_usd REAL;
        UPDATE batches SET
            input_tokens = coalesce((SELECT sum(i.input_tokens) FROM items i WHERE i.batch_id = batches.id), 0),
            output_tokens = coalesce((SELECT sum(i.output_tokens) FROM items i WHERE i.batch_id = batches.id), 0),
            cached_tokens = coalesce((SELECT sum(i.cached_tokens) FROM items i WHERE i.batch_id = batches.id), 0),
            reserved_at = submitting_at;
        CREATE INDEX batches_reserved_at ON batches(reserved_at) WHERE reserved_at IS NOT NULL;
        -- A rowid table: answers are large, and random keys would scatter them through a WITHOUT ROWID b-tree.
        CREATE TABLE response_cache (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            result_text TEXT NOT NULL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cached_tokens INTEGER,
            created_at INTEGER NOT NULL,
            job_id TEXT NOT NULL,
            custom_id TEXT NOT NULL
        );
        CREATE INDEX response_cache_job ON response_cache(job_id);
        """,
    ];
}
