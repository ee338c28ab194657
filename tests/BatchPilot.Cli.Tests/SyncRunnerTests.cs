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
    private static async Task<(JobRecord Job, SqliteJobStore Store)> CreateJobAsync(TempWorkspace ws, string model, int rows, string baseUrl, int? maxTokens = null)
    {
        var store = SqliteJobStore.Open(ws.PathOf("jobs.db"));
        var spec = new JobSpec { InputPath = "in.csv", InputSha256 = "h" + rows, Provider = ProviderNames.FromModel(model), Model = model, Prompt = "Answer {{text}}", Endpoint = baseUrl, Mode = JobMode.Sync, MaxTokens = maxTokens };
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

            // Then the limit is learned after the first burst (16 requests sent blind, 5 fitting the first second),
            // every item is answered, and later requests keep to 5 per second
            Assert.Equal(300, limiter.RequestsPerMinute);
            Assert.Equal(30, report.Succeeded);
            Assert.Equal(0, report.Failed);
            Assert.Equal(30, (await store.GetCountsAsync(job.Id)).Succeeded);
            Assert.True(report.Throttled <= 16, $"{report.Throttled} 429s: only the blind first burst may be refused");
            Assert.True(report.Elapsed >= TimeSpan.FromSeconds(4), $"30 requests at 5/s took {report.Elapsed}");
            Assert.Equal(30 + report.Throttled, emu.Counters["POST /v1/chat/completions"]);
        }
    }

    [Fact]
    public async Task Run_InAStormOf429sAndResets_LosesNothing_AndRecordsEachRetriedAttempt()
    {
        // Given an emulator refusing 30 % of the calls with a 429 and resetting 10 % of the connections
        using var ws = new TempWorkspace();
        var faults = FaultScenario.ParseFlags(["seed=7", "http:POST /v1/chat/completions:status=429:rate=0.3:retryAfterMs=20", "http:POST /v1/chat/completions:status=reset:rate=0.1"]);
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { Faults = faults });
        var baseUrl = new Uri(emu.BaseAddress, "v1").ToString();
        var (job, store) = await CreateJobAsync(ws, "gpt-4o-mini", 60, baseUrl);
        using (store)
        using (var client = Client(ProviderNames.OpenAI, baseUrl))
        {
            var runner = new SyncRunner(store, client, new SyncLimiter(TimeProvider.System), TimeProvider.System, options: Options(concurrency: 8));

            // When the job runs
            var report = await runner.RunAsync(job);

            // Then every item has its answer, and each retried attempt is in the history
            Assert.Equal(60, report.Succeeded);
            Assert.Equal(60, (await store.GetCountsAsync(job.Id)).Succeeded);
            var calls = emu.Counters["POST /v1/chat/completions"];
            Assert.Equal(calls, report.Attempts);
            Assert.True(calls > 60, $"{calls} calls: the storm should have caused retries");
            var retried = (await store.GetHistoryAsync(job.Id)).Where(h => h.State == "Retried").ToList();
            Assert.NotEmpty(retried);
            Assert.Equal(calls - 60, retried.Sum(h => AttemptsIn(h.Reason) - 1));
            Assert.Contains(retried, h => h.Reason.Contains("HTTP 429 rate_limit_exceeded, retried after 0.02 s", StringComparison.Ordinal));
            Assert.Contains(retried, h => h.Reason.Contains("connection_error, retried after", StringComparison.Ordinal));
            Assert.All(retried, h => Assert.EndsWith(" succeeded.", h.Reason, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("gpt-4o-mini", "insufficient_quota")]
    [InlineData("claude-haiku-4-5", "rate_limit_error")]
    public async Task Run_AgainstASpendCap_FailsEachItemAfterOneAttempt(string model, string code)
    {
        using var ws = new TempWorkspace();
        var anthropic = ProviderNames.FromModel(model) == ProviderNames.Anthropic;
        var path = anthropic ? "/v1/messages" : "/v1/chat/completions";
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { Faults = FaultScenario.ParseFlags([$"http:POST {path}:status=429:code=insufficient_quota"]) });
        var baseUrl = anthropic ? emu.BaseAddress.ToString().TrimEnd('/') : new Uri(emu.BaseAddress, "v1").ToString();
        var (job, store) = await CreateJobAsync(ws, model, 5, baseUrl);
        using (store)
        using (var client = Client(job.Spec.Provider, baseUrl))
        {
            var report = await new SyncRunner(store, client, new SyncLimiter(TimeProvider.System), TimeProvider.System, options: Options(concurrency: 2)).RunAsync(job);

            Assert.Equal(5, report.Failed);
            Assert.Equal(5, emu.Counters["POST " + path]);
            var items = new List<ItemRecord>();
            await foreach (var i in store.ReadItemsAsync(job.Id))
            {
                items.Add(i);
            }

            Assert.All(items, i => Assert.Equal(code, i.ErrorCode));
        }
    }

    [Fact]
    public async Task Run_Anthropic_LearnsInputAndOutputLimitsApart_AndKeepsToTheOutputLimit()
    {
        // Given an emulator allowing 600,000 input but only 6,000 output tokens per minute (100 per second)
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { TokensPerMinute = 600_000, OutputTokensPerMinute = 6_000 });
        var baseUrl = emu.BaseAddress.ToString().TrimEnd('/');
        var (job, store) = await CreateJobAsync(ws, "claude-haiku-4-5", 20, baseUrl, maxTokens: 25);
        using (store)
        using (var client = Client(ProviderNames.Anthropic, baseUrl))
        {
            var limiter = new SyncLimiter(TimeProvider.System);

            // When 20 requests of 25 max tokens run (4 per second fit the output limit)
            var report = await new SyncRunner(store, client, limiter, TimeProvider.System, options: Options(concurrency: 4)).RunAsync(job);

            // Then both limits were learned apart, and the output one paced the run without more 429s than the first burst
            Assert.Equal(20, report.Succeeded);
            Assert.Equal(600_000, limiter.InputTokensPerMinute);
            Assert.Equal(6_000, limiter.OutputTokensPerMinute);
            Assert.Null(limiter.TokensPerMinute);
            Assert.True(report.Throttled <= 4, $"{report.Throttled} 429s");
            Assert.True(report.Elapsed >= TimeSpan.FromSeconds(3), $"20 requests at 4/s took {report.Elapsed}");
        }
    }

    [Fact]
    public async Task Run_AfterAChunkRecordedButNeverMarkedSent_SendsItsItemsSynchronously_AndNeverAsABatch()
    {
        // Given a sync chunk left Planned five minutes ago by a process that died before marking it sent
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions());
        var baseUrl = new Uri(emu.BaseAddress, "v1").ToString();
        var (job, store) = await CreateJobAsync(ws, "gpt-4o-mini", 6, baseUrl);
        using (store)
        using (var past = SqliteJobStore.Open(ws.PathOf("jobs.db"), new ShiftedTime(TimeSpan.FromMinutes(-5))))
        using (var batchClient = BatchClients.Create(new BatchClientOptions { Provider = ProviderNames.OpenAI, BaseUrl = new Uri(baseUrl), ApiKey = "sk-test", SpoolDirectory = ws.PathOf("spool") }))
        using (var client = Client(ProviderNames.OpenAI, baseUrl))
        {
            await past.CreatePlannedBatchAsync(job.Id, [1, 2, 3, 4, 5, 6], 0, SyncRunner.TokenPrefix + "dead");

            // When the batch engine steps the job, then the sync runner runs it
            var submitted = await new JobEngine(store, batchClient, TimeProvider.System).SubmitPlannedAsync(job);
            var report = await new SyncRunner(store, client, new SyncLimiter(TimeProvider.System), TimeProvider.System).RunAsync(job);

            // Then no batch was created at the provider, and every item went through the synchronous API once
            Assert.Equal(0, submitted);
            Assert.Empty(emu.ListBatches());
            Assert.Equal(6, report.Succeeded);
            Assert.Equal(6, emu.Counters["POST /v1/chat/completions"]);
        }
    }

    /// <summary>The system clock shifted by a fixed amount (to record something "a while ago").</summary>
    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + shift;
    }

    private static SyncOptions Options(int concurrency) => new()
    {
        Concurrency = concurrency,
        Retry = new SyncRetryOptions { MaxRetries = 10, BaseDelay = TimeSpan.FromMilliseconds(20) },
    };

    private static int AttemptsIn(string reason) =>
        int.Parse(reason[(reason.IndexOf(": ", StringComparison.Ordinal) + 2)..reason.IndexOf(" attempts", StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);

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
