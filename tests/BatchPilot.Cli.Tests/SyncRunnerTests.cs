using BatchPilot.Emulator;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage.Sqlite;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>Synchronous mode against the emulator enforcing real RPM limits with 429s and rate-limit headers.</summary>
public sealed class SyncRunnerTests
{
    private static async Task<(JobRecord Job, SqliteJobStore Store)> CreateJobAsync(TempWorkspace ws, string model, int rows, string baseUrl)
    {
        var store = SqliteJobStore.Open(ws.PathOf("jobs.db"));
        var spec = new JobSpec { InputPath = "in.csv", InputSha256 = "h" + rows, Provider = ProviderNames.FromModel(model), Model = model, Prompt = "Answer {{text}}", Endpoint = baseUrl, Mode = JobMode.Sync };
        using var sizer = BatchClients.Create(new BatchClientOptions { Provider = spec.Provider, BaseUrl = new Uri(baseUrl), ApiKey = "sk-test", SpoolDirectory = ws.PathOf("spool") });
        var created = await CreateJob.RunAsync(store, new CreateJobRequest
        {
            Spec = spec,
            Name = "sync",
            Columns = ["text"],
            Rows = _ => Enumerable.Range(1, rows).Select(i => new SourceRow(i, i + 1, ["question " + i])),
        }, sizer, TimeProvider.System);
        return (created.Job, store);
    }

    private static ISyncClient Client(string provider, string baseUrl) => SyncClients.Create(new BatchClientOptions
    {
        Provider = provider,
        BaseUrl = new Uri(baseUrl),
        ApiKey = "sk-test",
        SpoolDirectory = Path.GetTempPath(),
        Retry = new Providers.Http.RetryOptions { MaxRetries = 10, BaseDelay = TimeSpan.FromMilliseconds(50) },
    });

    [Theory]
    [InlineData("gpt-4o-mini")]
    [InlineData("claude-haiku-4-5")]
    public async Task Run_WithTheLimitConfigured_StaysWithinItAndLosesNothing(string model)
    {
        // Given an emulator allowing 600 requests per minute (10 per second) and a client told so
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { RequestsPerMinute = 600 });
        var baseUrl = ProviderNames.FromModel(model) == ProviderNames.Anthropic ? emu.BaseAddress.ToString().TrimEnd('/') : new Uri(emu.BaseAddress, "v1").ToString();
        var (job, store) = await CreateJobAsync(ws, model, 40, baseUrl);
        using (store)
        using (var client = Client(job.Spec.Provider, baseUrl))
        {
            var runner = new SyncRunner(store, client, new SyncLimiter(TimeProvider.System, requestsPerMinute: 600), TimeProvider.System, options: new SyncOptions { Concurrency = 8, ChunkSize = 15 });

            // When the job runs synchronously
            var report = await runner.RunAsync(job);

            // Then every item has its own answer, the rate stayed within the limit, and 429s were rare
            var items = new List<ItemRecord>();
            await foreach (var i in store.ReadItemsAsync(job.Id))
            {
                items.Add(i);
            }

            Assert.All(items, i => Assert.Equal(ItemStatus.Succeeded, i.Status));
            Assert.All(items, i => Assert.Contains("Answer question " + i.Seq, i.ResultText, StringComparison.Ordinal));
            Assert.Equal(40, report.Succeeded);
            Assert.True(report.Elapsed >= TimeSpan.FromSeconds(3), $"40 requests at 10/s took {report.Elapsed}");
            Assert.True(report.Throttled <= 2, $"{report.Throttled} 429s");
            Assert.Equal(3, (await store.ListBatchesAsync(job.Id)).Count);
        }
    }

    [Fact]
    public async Task Run_Without_A_ConfiguredLimit_LearnsItFromTheHeaders_AndLosesNothingInA429Storm()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { RequestsPerMinute = 300 });
        var baseUrl = new Uri(emu.BaseAddress, "v1").ToString();
        var (job, store) = await CreateJobAsync(ws, "gpt-4o-mini", 30, baseUrl);
        using (store)
        using (var client = Client(ProviderNames.OpenAI, baseUrl))
        {
            var limiter = new SyncLimiter(TimeProvider.System);
            var runner = new SyncRunner(store, client, limiter, TimeProvider.System, options: new SyncOptions { Concurrency = 16 });

            var report = await runner.RunAsync(job);

            Assert.Equal(300, limiter.RequestsPerMinute);
            Assert.Equal(30, report.Succeeded);
            Assert.Equal(0, report.Failed);
            Assert.Equal(30, (await store.GetCountsAsync(job.Id)).Succeeded);
        }
    }

    [Fact]
    public async Task Run_AfterAnInterruptedChunk_SendsOnlyTheUnansweredItems()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions());
        var baseUrl = new Uri(emu.BaseAddress, "v1").ToString();
        var (job, store) = await CreateJobAsync(ws, "gpt-4o-mini", 6, baseUrl);
        using (store)
        using (var client = Client(ProviderNames.OpenAI, baseUrl))
        {
            // Given a chunk left in flight by a process that died, with 2 of its 6 answers recorded
            var chunk = await store.CreatePlannedBatchAsync(job.Id, [1, 2, 3, 4, 5, 6], 0, "sync-dead");
            await store.TryTransitionBatchAsync(chunk.Id, [Batches.BatchState.Planned], Batches.BatchState.Submitted,
                new Storage.BatchUpdate { ProviderBatchId = "sync-dead", ProviderStatus = SyncRunner.SyncStatus, LeaseOwner = "otherhost:1:1", LeaseUntil = DateTimeOffset.UtcNow.AddMinutes(-1) }, "test");
            await store.ApplyResultsAsync(chunk.Id, [new ResultLine { CustomId = "row-1", Kind = ResultKind.Succeeded, Text = "kept 1" }, new ResultLine { CustomId = "row-2", Kind = ResultKind.Succeeded, Text = "kept 2" }]);
            var before = emu.Counters["POST /v1/chat/completions"];

            // When the job runs again
            var report = await new SyncRunner(store, client, new SyncLimiter(TimeProvider.System), TimeProvider.System).RunAsync(job);

            // Then the two recorded answers are kept and only the four others are sent
            Assert.Equal(4, report.Succeeded);
            Assert.Equal(4, emu.Counters["POST /v1/chat/completions"] - before);
            var items = new List<ItemRecord>();
            await foreach (var i in store.ReadItemsAsync(job.Id))
            {
                items.Add(i);
            }

            Assert.Equal(["kept 1", "kept 2"], items.Take(2).Select(i => i.ResultText));
            Assert.All(items, i => Assert.Equal(ItemStatus.Succeeded, i.Status));
        }
    }
}
