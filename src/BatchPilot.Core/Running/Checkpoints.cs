using System.Diagnostics;
using System.Globalization;

namespace BatchPilot.Running;

/// <summary>
/// Named crash points. When <c>BATCHPILOT_CRASH_AT</c> names a checkpoint (optionally with
/// <c>BATCHPILOT_CRASH_AFTER=N</c> to pass it N times first), the process kills itself with SIGKILL there.
/// Used by the crash tests; costs one string comparison otherwise.
/// </summary>
public static class Checkpoints
{
    /// <summary>After the batch row moved to Submitting, before anything is sent.</summary>
    public const string SubmitClaimed = "submit:claimed";

    /// <summary>After the input file was uploaded (OpenAI) or spooled (Anthropic).</summary>
    public const string SubmitStaged = "submit:staged";

    /// <summary>After the provider created the batch, before it is recorded.</summary>
    public const string SubmitCreated = "submit:created";

    /// <summary>After the provider batch id is recorded.</summary>
    public const string SubmitRecorded = "submit:recorded";

    /// <summary>After a chunk of items was ingested.</summary>
    public const string IngestChunk = "ingest:chunk";

    /// <summary>After a batch was planned.</summary>
    public const string Planned = "plan:batch";

    /// <summary>After a poll recorded a status.</summary>
    public const string Polled = "poll:recorded";

    /// <summary>After a chunk of results was applied.</summary>
    public const string CollectChunk = "collect:chunk";

    /// <summary>After all results of a batch were applied, before the batch is marked collected.</summary>
    public const string CollectApplied = "collect:applied";

    /// <summary>While the merged output is being written.</summary>
    public const string OutputWriting = "output:writing";

    /// <summary>
    /// After a comparison group and its reserved child ids were stored, before any child job exists. Not in
    /// <see cref="All"/>: only a run with several variants passes it.
    /// </summary>
    public const string GroupCreated = "group:created";

    /// <summary>After a comparison's child job was created (its rows read), before the next child. Not in <see cref="All"/>.</summary>
    public const string GroupChild = "group:child";

    /// <summary>Sync mode: after a chunk's budget reservation was recorded (the chunk is Submitted), before any request is sent.</summary>
    public const string SyncReserved = "sync:reserved";

    /// <summary>Every checkpoint a batch-mode run passes (sync mode adds <see cref="SyncReserved"/>).</summary>
    public static readonly IReadOnlyList<string> All =
    [
        IngestChunk, Planned, SubmitClaimed, SubmitStaged, SubmitCreated, SubmitRecorded, Polled, CollectChunk, CollectApplied, OutputWriting,
    ];

    private static readonly string? Target = Environment.GetEnvironmentVariable("BATCHPILOT_CRASH_AT");
    private static int _remaining = int.TryParse(Environment.GetEnvironmentVariable("BATCHPILOT_CRASH_AFTER"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    /// <summary>Marks a checkpoint; kills the process if it is the configured crash point.</summary>
    public static void Hit(string name)
    {
        if (Target is null || !string.Equals(Target, name, StringComparison.Ordinal))
        {
            return;
        }

        if (Interlocked.Decrement(ref _remaining) >= 0)
        {
            return;
        }

        using var self = Process.GetCurrentProcess();
        self.Kill();
        Thread.Sleep(Timeout.Infinite);
    }
}
