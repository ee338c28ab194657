using System.Diagnostics;
using System.Globalization;
using BatchPilot.Batches;
using BatchPilot.Exports;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Storage;
using BatchPilot.Storage.Sqlite;

namespace BatchPilot.IO.Bench;

/// <summary>
/// Exports: a finished job in a real SQLite store, filled through the store's API as the engine leaves it (items
/// appended, batches of 50,000 planned, submitted, their results applied, collected; 1 % failed), then one export
/// per format through <see cref="JobExporter"/> into a file, each in its own process so that its peak RSS is its own.
/// </summary>
internal static class ExportBench
{
    public const string JobId = "job-bench";

    public static readonly (string Name, ExportFormat Format)[] Formats =
        [("csv", ExportFormat.Csv), ("jsonl", ExportFormat.Jsonl), ("md", ExportFormat.Markdown), ("docx", ExportFormat.Docx), ("xlsx", ExportFormat.Xlsx)];

    private static readonly string[] Reasons =
    [
        "the reviewer reports a defect soon after delivery and asks for a refund",
        "the text is lukewarm: it works, but not as well as the listing says",
        "the review weighs a small flaw against a fair price",
        "the reviewer praises the build quality and would buy again",
        "the reviewer is enthusiastic and recommended it to friends",
    ];

    /// <summary>Creates the store at <paramref name="db"/> with a finished job of <paramref name="rows"/> items.</summary>
    public static async Task FillAsync(string db, int rows)
    {
        using var store = SqliteJobStore.Open(db);
        var spec = new JobSpec
        {
            InputPath = "reviews.csv",
            InputSha256 = "bench" + rows.ToString(CultureInfo.InvariantCulture),
            Provider = ProviderNames.OpenAI,
            Model = "gpt-4o-mini",
            Prompt = PrepareBench.PlainTemplate,
            Endpoint = "emulator",
        };
        var now = DateTimeOffset.UtcNow;
        await store.CreateJobAsync(new JobRecord
        {
            Id = JobId,
            Name = "reviews-bench",
            Spec = spec,
            Fingerprint = spec.Fingerprint(),
            Status = JobStatus.Preparing,
            Columns = ReviewTable.Columns,
            CreatedAt = now,
            UpdatedAt = now,
        });

        // Items first, as ingest does, then batches of 50,000 as planning cuts them, each submitted, answered and collected.
        const int BatchSize = 50_000;
        long seq = 0;
        foreach (var chunk in ReviewTable.Rows(rows).Chunk(BatchSize))
        {
            await store.AppendItemsAsync(JobId, chunk.Select(values => new NewItem(++seq, "row-" + seq, seq + 1, values)).ToList());
        }

        await store.TrySetJobStatusAsync(JobId, [JobStatus.Preparing], JobStatus.Pending, "All rows read.", rows);
        var random = new Random(7);
        seq = 0;
        foreach (var chunk in ReviewTable.Rows(rows).Chunk(BatchSize))
        {
            var first = seq + 1;
            seq += chunk.Length;
            var seqs = Enumerable.Range(0, chunk.Length).Select(i => first + i).ToList();
            var batch = await store.CreatePlannedBatchAsync(JobId, seqs, chunk.Length * 1_000L, "tok-" + first);
            var providerId = "batch_" + first.ToString("x12", CultureInfo.InvariantCulture);
            await store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Submitted,
                new BatchUpdate { ProviderBatchId = providerId, ProviderStatus = "in_progress", SubmittedAt = now }, "Submitted.");
            var lines = new List<ResultLine>(5_000);
            for (var i = 0; i < chunk.Length; i++)
            {
                lines.Add(Answer(first + i, chunk[i], random));
                if (lines.Count == 5_000 || i == chunk.Length - 1)
                {
                    var applied = await store.ApplyResultsAsync(batch.Id, lines);
                    if (applied.Applied != lines.Count)
                    {
                        throw new InvalidOperationException($"{applied.Applied} of {lines.Count} results applied");
                    }

                    lines.Clear();
                }
            }

            await store.TryTransitionBatchAsync(batch.Id, [BatchState.Submitted], BatchState.Collected,
                new BatchUpdate { ProviderStatus = "completed", EndedAt = now, CollectedAt = now }, "Collected.");
        }

        if (!await store.TrySetJobStatusAsync(JobId, [JobStatus.Pending], JobStatus.CompletedWithErrors, "Every item ended."))
        {
            throw new InvalidOperationException("the bench job could not be finished");
        }
    }

    /// <summary>The fill as a child measurement (to leave a store behind for profiling an export).</summary>
    public static async Task<Result> FillTimedAsync(string db, int rows)
    {
        var sw = Stopwatch.StartNew();
        await FillAsync(db, rows);
        return new Result(rows, sw.Elapsed.TotalSeconds, 0, new FileInfo(db).Length, 1);
    }

    /// <summary>A Markdown answer of about 250 characters (bold, code, a list), or for 1 item in 100 a failure.</summary>
    private static ResultLine Answer(long seq, string[] row, Random random)
    {
        var customId = "row-" + seq.ToString(CultureInfo.InvariantCulture);
        if (random.Next(100) == 0)
        {
            return new ResultLine
            {
                CustomId = customId,
                Kind = ResultKind.Failed,
                ErrorCode = "server_error",
                ErrorMessage = "The server had an error while processing your request. Sorry about that!",
            };
        }

        var rating = int.Parse(row[2], CultureInfo.InvariantCulture);
        var sentiment = rating switch { <= 2 => "negative", 3 => "neutral", _ => "positive" };
        var words = row[3].Split(' ', 4);
        var phrase = string.Join(' ', words.Take(3));
        var text = $"**Sentiment: {sentiment}** ({rating}/5, review {row[0]})\n\n"
            + $"The label follows the text: {Reasons[rating - 1]}.\n\n"
            + $"- product: {row[1]}\n- key phrase: `{phrase}`\n- confidence: *{(random.Next(3) == 0 ? "medium" : "high")}*\n";
        return new ResultLine
        {
            CustomId = customId,
            Kind = ResultKind.Succeeded,
            Text = text,
            Usage = new TokenUsage(150 + random.Next(100), 40 + random.Next(40)),
        };
    }

    /// <summary>Exports the job in one format into <paramref name="output"/>: the timed part of an export child.</summary>
    public static async Task<Result> ExportAsync(string db, string format, string output)
    {
        var f = Formats.Single(x => x.Name == format).Format;
        using var store = SqliteJobStore.Open(db);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var job = await store.GetJobAsync(JobId) ?? throw new InvalidOperationException("the bench job is missing");
        var rows = await JobExporter.ExportAsync(store, job, f, output);
        sw.Stop();
        return new Result(rows, sw.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds, new FileInfo(output).Length, 1);
    }
}
