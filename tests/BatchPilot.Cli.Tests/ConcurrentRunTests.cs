using System.Reflection;
using BatchPilot.Batches;
using BatchPilot.Emulator;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage;
using BatchPilot.Storage.Sqlite;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// The same command run by two processes at once, with the interleavings forced: each process has its own store on
/// the same SQLite file, and the other process's step runs at the exact instant where it hurts.
/// </summary>
public sealed class ConcurrentRunTests
{
    private const int Rows = 35;

    private static JobSpec Spec() => new() { InputPath = "in.csv", InputSha256 = "h", Provider = ProviderNames.OpenAI, Model = "gpt-4o-mini", Prompt = "Answer {{text}}", Endpoint = "emulator" };

    // Planning measures requests locally; nothing is sent to this loopback address.
    private static IBatchClient Client(TempWorkspace ws) => BatchClients.Create(new BatchClientOptions
    {
        Provider = ProviderNames.OpenAI,
        BaseUrl = new Uri("http://127.0.0.1:9/v1"),
        ApiKey = "sk-test",
        SpoolDirectory = ws.PathOf("spool"),
        MaxRequestsPerBatch = 10,
    });

    /// <summary>An OpenAI chat completions client of the emulator.</summary>
    private static ISyncClient SyncClient(EmulatorServer emu) =>
        SyncClients.Create(new BatchClientOptions { Provider = ProviderNames.OpenAI, BaseUrl = new Uri(emu.BaseAddress, "v1"), ApiKey = "sk-test", SpoolDirectory = Path.GetTempPath() });

    private static IEnumerable<SourceRow> Source(Action? beforeFirstRow = null)
    {
        beforeFirstRow?.Invoke();
        for (var i = 1; i <= Rows; i++)
        {
            yield return new SourceRow(i, i + 1, ["question " + i]);
        }
    }

    private static CreateJobRequest Request(Action? beforeFirstRow = null, JobMode mode = JobMode.Batch) =>
        new() { Spec = Spec() with { Mode = mode }, Name = "twice", Columns = ["text"], Rows = _ => Source(beforeFirstRow) };

    [Fact]
    public async Task CreateJob_WhileAnotherProcessReadsTheSameInput_ContinuesItsJob_AndStoresEachRowOnce()
    {
        // Given a process that created the job and is about to store its rows
        using var two = new TwoProcesses();
        var (store, other, client) = (two.Store, two.Other, two.Client);
        CreateJobResult? second = null;

        // When the same command in another process runs to its end before the first stores anything
        var first = await CreateJob.RunAsync(store, Request(() => second = CreateJob.RunAsync(other, Request(), client, TimeProvider.System).GetAwaiter().GetResult()), client, TimeProvider.System);

        // Then the second continued the first's job, and each row is stored once
        Assert.True(first.Created);
        Assert.NotNull(second);
        Assert.False(second.Created);
        Assert.Equal(first.Job.Id, second.Job.Id);
        Assert.Single(await store.ListJobsAsync(10));
        var counts = await store.GetCountsAsync(first.Job.Id);
        Assert.Equal((Rows, (long)Rows), (counts.Total, counts.Pending));
        Assert.Equal(JobStatus.Pending, first.Job.Status);
    }

    [Fact]
    public async Task Plan_WhenAnotherProcessPlansABatchMeanwhile_PlansTheRest_AndEachItemIsInOneBatch()
    {
        // Given a job of 35 items, batches of 10, and another process planning the first batch while this one reads
        using var two = new TwoProcesses();
        var (store, other, client) = (two.Store, two.Other, two.Client);
        var job = (await CreateJob.RunAsync(store, Request(), client, TimeProvider.System)).Job;
        var interleaved = BeforeFirstCall.Wrap(store, nameof(IJobStore.CreatePlannedBatchAsync),
            () => other.CreatePlannedBatchAsync(job.Id, [.. Enumerable.Range(1, 10).Select(i => (long)i)], 100, "bp-other").GetAwaiter().GetResult());

        // When this process plans
        var planned = await new JobEngine(interleaved, client, TimeProvider.System).PlanAsync(job);

        // Then it planned the three other batches, and every item is in exactly one batch
        Assert.Equal(3, planned);
        var batches = await store.ListBatchesAsync(job.Id);
        Assert.Equal([10, 10, 10, 5], batches.OrderBy(b => b.Number).Select(b => b.RequestCount));
        var counts = await store.GetCountsAsync(job.Id);
        Assert.Equal((0L, (long)Rows), (counts.Pending, counts.InBatch));
        var seqs = new List<long>();
        foreach (var b in batches)
        {
            await foreach (var item in store.ReadBatchItemsAsync(b.Id))
            {
                seqs.Add(item.Seq);
            }
        }

        Assert.Equal(Enumerable.Range(1, Rows).Select(i => (long)i), seqs.Order());
    }

    [Fact]
    public async Task SyncRun_WhenAnotherProcessTakesAChunkMeanwhile_SendsTheOtherItems_AndNeverItsChunk()
    {
        // Given a sync job of 35 items, and another process taking the first 10 while this one reads them
        using var two = new TwoProcesses();
        var (store, other, client) = (two.Store, two.Other, two.Client);
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions());
        var job = (await CreateJob.RunAsync(store, Request(mode: JobMode.Sync), client, TimeProvider.System)).Job;
        var interleaved = BeforeFirstCall.Wrap(store, nameof(IJobStore.CreatePlannedBatchAsync),
            () => other.CreatePlannedBatchAsync(job.Id, [.. Enumerable.Range(1, 10).Select(i => (long)i)], 0, "bp-sync-other").GetAwaiter().GetResult());
        using var sync = SyncClient(emu);

        // When this process runs the job synchronously
        var report = await new SyncRunner(interleaved, sync, new SyncLimiter(TimeProvider.System), TimeProvider.System, options: new SyncOptions { ChunkSize = 15 }).RunAsync(job);

        // Then it answered the 25 items nobody else holds, and left the other process's 10 alone
        Assert.Equal(25, report.Succeeded);
        var items = new List<ItemRecord>();
        await foreach (var item in store.ReadItemsAsync(job.Id))
        {
            items.Add(item);
        }

        Assert.All(items.Where(i => i.Seq <= 10), i => Assert.Equal(ItemStatus.InBatch, i.Status));
        Assert.All(items.Where(i => i.Seq > 10), i => Assert.Equal(ItemStatus.Succeeded, i.Status));
    }

    [Fact]
    public async Task SyncRun_WhileAnotherProcessIsStillSendingAChunk_WaitsForItsAnswers_BeforeReturning()
    {
        // Given a sync job of 35 items whose first 10 another live process is sending right now
        using var two = new TwoProcesses();
        var (store, other, client) = (two.Store, two.Other, two.Client);
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions());
        var job = (await CreateJob.RunAsync(store, Request(mode: JobMode.Sync), client, TimeProvider.System)).Job;
        var chunk = await other.CreatePlannedBatchAsync(job.Id, [.. Enumerable.Range(1, 10).Select(i => (long)i)], 0, SyncRunner.TokenPrefix + "other");
        var now = DateTimeOffset.UtcNow;
        Assert.True(await other.TryTransitionBatchAsync(chunk.Id, [BatchState.Planned], BatchState.Submitted,
            new BatchUpdate { ProviderBatchId = "sync-other", ProviderStatus = SyncRunner.SyncStatus, SubmittingAt = now, SubmittedAt = now, LeaseOwner = ProcessIdentity.Current, LeaseUntil = now.AddMinutes(15) },
            "Sending 10 requests through the synchronous API."));
        using var sync = SyncClient(emu);

        // When this process runs the job synchronously
        var run = new SyncRunner(store, sync, new SyncLimiter(TimeProvider.System), TimeProvider.System, options: new SyncOptions { ChunkSize = 15 }).RunAsync(job);

        // Then it does not return while the other process's chunk is in flight
        Assert.NotSame(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(3))));

        // And once the other process has its answers, it returns with every item answered
        var held = new List<ResultLine>();
        await foreach (var item in other.ReadItemsAsync(job.Id))
        {
            if (item.Seq <= 10)
            {
                held.Add(new ResultLine { CustomId = item.CustomId, Kind = ResultKind.Succeeded, Text = "answer " + item.Seq });
            }
        }

        await other.ApplyResultsAsync(chunk.Id, held);
        Assert.True(await other.TryTransitionBatchAsync(chunk.Id, [BatchState.Submitted], BatchState.Collected, new BatchUpdate { ClearLease = true, EndedAt = DateTimeOffset.UtcNow, CollectedAt = DateTimeOffset.UtcNow }, "10 of 10 requests answered."));
        var report = await run.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(25, report.Succeeded);
        var counts = await store.GetCountsAsync(job.Id);
        Assert.Equal(35, counts.Succeeded);
    }

    [Fact]
    public async Task SyncRun_AChunkLongerThanItsLease_RenewsTheLease_SoNoOtherProcessTakesItForInterrupted()
    {
        // Given a sync job whose one chunk takes longer than the lease (a slow server, one request at a time)
        using var two = new TwoProcesses();
        var (store, client) = (two.Store, two.Client);
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { LatencyMs = 1000 });
        var job = (await CreateJob.RunAsync(store, Request(mode: JobMode.Sync), client, TimeProvider.System)).Job;
        using var sync = SyncClient(emu);
        var options = new SyncOptions { ChunkSize = 8, Concurrency = 1, LeaseDuration = TimeSpan.FromSeconds(3) };
        using var stop = new CancellationTokenSource();

        // When it has been sending for longer than one lease
        var run = new SyncRunner(store, sync, new SyncLimiter(TimeProvider.System), TimeProvider.System, options: options).RunAsync(job, stop.Token);
        BatchRecord? first = null;
        for (var i = 0; i < 100 && first?.LeaseUntil is null; i++)
        {
            await Task.Delay(50);
            first = (await store.ListBatchesAsync(job.Id)).FirstOrDefault(b => b.State == BatchState.Submitted);
        }

        Assert.NotNull(first?.LeaseUntil);
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        var later = await store.GetBatchAsync(first.Id);

        // Then the chunk, still being sent, holds a lease moved on past the first one
        Assert.NotNull(later);
        Assert.Equal(BatchState.Submitted, later.State);
        Assert.True(later.LeaseUntil > first.LeaseUntil, $"lease {later.LeaseUntil:O} not renewed past {first.LeaseUntil:O}");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }

    /// <summary>Two processes' stores on one SQLite file, and a client of batches of 10.</summary>
    private sealed class TwoProcesses : IDisposable
    {
        private readonly TempWorkspace _ws = new();

        public TwoProcesses()
        {
            Store = SqliteJobStore.Open(_ws.PathOf("jobs.db"));
            Other = SqliteJobStore.Open(_ws.PathOf("jobs.db"));
            Client = Client(_ws);
        }

        public SqliteJobStore Store { get; }

        public SqliteJobStore Other { get; }

        public IBatchClient Client { get; }

        public void Dispose()
        {
            Client.Dispose();
            Other.Dispose();
            Store.Dispose();
            _ws.Dispose();
        }
    }

    /// <summary>A real store that runs another process's step once, just before the first call of one method.</summary>
    public class BeforeFirstCall : DispatchProxy
    {
        private IJobStore _inner = null!;
        private string _method = string.Empty;
        private Action? _step;

        /// <summary>Wraps the store.</summary>
        public static IJobStore Wrap(IJobStore inner, string method, Action step)
        {
            var proxy = Create<IJobStore, BeforeFirstCall>();
            var self = (BeforeFirstCall)(object)proxy;
            (self._inner, self._method, self._step) = (inner, method, step);
            return proxy;
        }

        /// <inheritdoc/>
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            if (targetMethod.Name == _method && Interlocked.Exchange(ref _step, null) is { } step)
            {
                step();
            }

            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
                throw;
            }
        }
    }
}
