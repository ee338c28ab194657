using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Storage;
using BatchPilot.Storage.Sqlite;
using BatchPilot.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Exports.Tests;

/// <summary>A temp workspace with a real SQLite store on a fake clock, and helpers that build jobs through the store's own API.</summary>
internal sealed class ExportJobs : IDisposable
{
    public static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, TimeSpan.Zero);

    public ExportJobs()
    {
        Store = SqliteJobStore.Open(Ws.PathOf("store.db"), Time);
    }

    public TempWorkspace Ws { get; } = new();

    public FakeTimeProvider Time { get; } = new(Start);

    public SqliteJobStore Store { get; }

    /// <summary>Options whose export timestamp comes from the fake clock.</summary>
    public ExportOptions Options(bool split = false, string? title = null) => new() { Time = Time, Split = split, Title = title };

    public void Dispose()
    {
        Store.Dispose();
        Ws.Dispose();
    }

    /// <summary>Creates a job with items (custom id, values) and moves it to Pending.</summary>
    public async Task<JobRecord> CreateAsync(string id, IReadOnlyList<string> columns, string? idColumn, IReadOnlyList<(string CustomId, string?[] Values)> items, JobMode mode = JobMode.Batch, string name = "avis-clients", string model = "gpt-4o-mini", string provider = "openai", Func<JobSpec, JobSpec>? configure = null)
    {
        var baseSpec = new JobSpec
        {
            InputPath = "questions.csv",
            InputSha256 = "0f" + id,
            Provider = provider,
            Model = model,
            Prompt = "{{question}}",
            Endpoint = "emulator",
            IdColumn = idColumn,
            Mode = mode,
        };
        var spec = configure?.Invoke(baseSpec) ?? baseSpec;
        var job = new JobRecord
        {
            Id = id,
            Name = name,
            Spec = spec,
            Fingerprint = spec.Fingerprint(),
            Status = JobStatus.Preparing,
            Columns = columns,
            CreatedAt = Time.GetUtcNow(),
            UpdatedAt = Time.GetUtcNow(),
        };
        await Store.CreateJobAsync(job);
        await Store.AppendItemsAsync(id, items.Select((x, i) => new NewItem(i + 1, x.CustomId, i + 2, x.Values)).ToList());
        Assert.True(await Store.TrySetJobStatusAsync(id, [JobStatus.Preparing], JobStatus.Pending, "All rows read.", items.Count));
        return (await Store.GetJobAsync(id))!;
    }

    /// <summary>Plans a batch of <paramref name="seqs"/> and records it as submitted under <paramref name="providerBatchId"/>.</summary>
    public async Task<long> SubmitAsync(string jobId, IReadOnlyList<long> seqs, string providerBatchId)
    {
        var batch = await Store.CreatePlannedBatchAsync(jobId, seqs, 100, "tok-" + providerBatchId);
        Assert.True(await Store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Submitted,
            new BatchUpdate { ProviderBatchId = providerBatchId, ProviderStatus = "in_progress", SubmittedAt = Time.GetUtcNow() }, "Submitted."));
        return batch.Id;
    }

    /// <summary>Applies results and ends the batch.</summary>
    public async Task CollectAsync(long batchId, IReadOnlyList<ResultLine> lines)
    {
        Time.Advance(TimeSpan.FromMinutes(42));
        var applied = await Store.ApplyResultsAsync(batchId, lines);
        Assert.Equal(lines.Count, applied.Applied);
        Assert.True(await Store.TryTransitionBatchAsync(batchId, [BatchState.Submitted], BatchState.Collected,
            new BatchUpdate { ProviderStatus = "completed", EndedAt = Time.GetUtcNow(), CollectedAt = Time.GetUtcNow() }, "Collected."));
    }

    /// <summary>Moves the job to a final status (the store stamps completed_at).</summary>
    public async Task<JobRecord> FinishAsync(string jobId, JobStatus status = JobStatus.CompletedWithErrors)
    {
        Time.Advance(TimeSpan.FromSeconds(7));
        Assert.True(await Store.TrySetJobStatusAsync(jobId, [JobStatus.Pending, JobStatus.Running], status, "Every item ended."));
        return (await Store.GetJobAsync(jobId))!;
    }

    public static ResultLine Ok(string customId, string text, long input = 120, long output = 80, long cached = 0) =>
        new() { CustomId = customId, Kind = ResultKind.Succeeded, Text = text, Usage = new TokenUsage(input, output, cached) };

    public static ResultLine Failed(string customId, string code, string message) =>
        new() { CustomId = customId, Kind = ResultKind.Failed, ErrorCode = code, ErrorMessage = message };

    /// <summary>
    /// The sample job: q-1 answers in rich French Markdown (headings, nested lists, table, code, quote, links,
    /// rule, Chinese), q-2 failed, q-3 answers in Chinese with an ordered list from 3, a setext heading, a control
    /// character, unsafe links and an unclosed code fence. q-1 and q-2 went in one batch, q-3 in another.
    /// </summary>
    public async Task<JobRecord> SampleAsync()
    {
        var job = await CreateAsync("job-5e7c1a", ["question", "id"], "id",
        [
            ("q-1", ["Résumez le traitement par lot", "q-1"]),
            ("q-2", ["Pourquoi 24 h ?\nDétails", "q-2"]),
            ("q-3", ["列出三个要点", "q-3"]),
        ]);
        var a = await SubmitAsync(job.Id, [1, 2], "batch_6a1f0c2e9d");
        var b = await SubmitAsync(job.Id, [3], "batch_77c0ffee01");
        await CollectAsync(a, [Ok("q-1", RichAnswer, 1200, 340, 1024), Failed("q-2", "context_length_exceeded", "This model's maximum context length is 128000 tokens | <b>trop long</b>")]);
        await CollectAsync(b, [Ok("q-3", ChineseAnswer, 88, 120)]);
        return await FinishAsync(job.Id);
    }

    public const string RichAnswer = """
        # Résumé du lot

        Le traitement par lot est **économique** et *robuste* ; la commande `batchpilot run` suffit.

        ## Avantages

        - premier élément
        - deuxième élément avec un [lien vers la doc](https://platform.openai.com/docs/guides/batch)
          1. sous-point un
          2. sous-point deux
        - troisième élément ~~barré~~

        | Colonne | Valeur |
        | :--- | ---: |
        | café | 3,50 € |
        | thé | 2 € |

        > Une citation : les lots peuvent prendre jusqu'à 24 h.

        ```python
        print("bonjour")
        	indented = True
        ```

        ---

        Voir <https://example.com/a?b=1&c=2> et [la même doc](https://platform.openai.com/docs/guides/batch).

        中文测试：批处理结果已导出。
        """;

    public const string ChineseAnswer = "要点摘要\n====\n\n3. 第三点：成本降低百分之五十\n4. 第四点：无需保持连接\n\n控制字符\u0001在这里，[相对链接](docs/readme.md)，[脚本](javascript:alert(1))。\n\n```\n未闭合的代码块\n";

    /// <summary>A job of <paramref name="count"/> succeeded items with answers of about <paramref name="answerLength"/> characters, in batches of 50,000.</summary>
    public async Task<JobRecord> LargeAsync(string id, int count, int answerLength = 200)
    {
        var items = Enumerable.Range(1, count).Select(i => ("row-" + i, new string?[] { "Produit " + (i % 7), "Avis numéro " + i + ", très bien" })).ToList();
        var job = await CreateAsync(id, ["product", "review_text"], null, items);
        var filler = string.Concat(Enumerable.Repeat("Réponse **positive** avec `code` et un détail. ", (answerLength / 48) + 1))[..answerLength];
        for (var start = 1; start <= count; start += 50_000)
        {
            var seqs = Enumerable.Range(start, Math.Min(50_000, count - start + 1)).Select(i => (long)i).ToList();
            var batch = await SubmitAsync(id, seqs, "batch_" + start);
            for (var chunk = 0; chunk < seqs.Count; chunk += 5_000)
            {
                var lines = seqs.Skip(chunk).Take(5_000).Select(s => Ok("row-" + s, filler, 40, 50)).ToList();
                await Store.ApplyResultsAsync(batch, lines);
            }
        }

        return await FinishAsync(id, JobStatus.Completed);
    }
}

/// <summary>Approved files: the expected output sits in <c>Approved/NAME.approved.EXT</c>; a mismatch writes <c>NAME.received.EXT</c> beside it.</summary>
internal static class Approved
{
    public static void Verify(string actual, string name, string extension)
    {
        var dir = RepositoryRoot.PathOf("tests", "BatchPilot.Exports.Tests", "Approved");
        var approved = Path.Combine(dir, $"{name}.approved{extension}");
        var received = Path.Combine(dir, $"{name}.received{extension}");
        if (File.Exists(approved) && File.ReadAllText(approved) == actual)
        {
            File.Delete(received);
            return;
        }

        Directory.CreateDirectory(dir);
        File.WriteAllText(received, actual);
        Assert.Fail($"{name}: the output differs from {approved}. Compare it with {received}, and rename that file if the change is intended.");
    }
}
