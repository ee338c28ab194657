using BatchPilot.Batches;
using BatchPilot.Errors;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Storage;
using BatchPilot.Storage.Sqlite;
using BatchPilot.Testing;

namespace BatchPilot.Storage.Sqlite.Tests;

public sealed class SqliteJobStoreTests : IDisposable
{
    private readonly TempWorkspace _ws = new();
    private readonly SqliteJobStore _store;

    public SqliteJobStoreTests() => _store = SqliteJobStore.Open(_ws.PathOf("store.db"));

    public void Dispose()
    {
        _store.Dispose();
        _ws.Dispose();
    }

    private async Task<JobRecord> NewJobAsync(int items, string id = "job-000001")
    {
        var spec = new JobSpec { InputPath = "in.csv", InputSha256 = "h", Provider = "openai", Model = "gpt-4o-mini", Prompt = "{{a}}", Endpoint = "emulator" };
        var job = new JobRecord { Id = id, Name = "t", Spec = spec, Fingerprint = spec.Fingerprint() + id, Status = JobStatus.Preparing, Columns = ["a"], CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch };
        await _store.CreateJobAsync(job);
        await _store.AppendItemsAsync(job.Id, Enumerable.Range(1, items).Select(i => new NewItem(i, "row-" + i, i + 1, ["v" + i])).ToList());
        Assert.True(await _store.TrySetJobStatusAsync(job.Id, [JobStatus.Preparing], JobStatus.Pending, "ready", items));
        return (await _store.GetJobAsync(job.Id))!;
    }

    private static ResultLine Ok(string id, string text = "ok") => new() { CustomId = id, Kind = ResultKind.Succeeded, Text = text, Usage = new TokenUsage(3, 4, 1) };

    [Fact]
    public async Task TryTransitionBatch_RefusesWhenTheBatchIsNotInAnExpectedState()
    {
        var job = await NewJobAsync(3);
        var batch = await _store.CreatePlannedBatchAsync(job.Id, [1, 2, 3], 10, "tok-1");

        var first = await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Submitting, new BatchUpdate { LeaseOwner = "a" }, "claim");
        var second = await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Submitting, new BatchUpdate { LeaseOwner = "b" }, "claim");

        Assert.True(first);
        Assert.False(second);
        var stored = await _store.GetBatchAsync(batch.Id);
        Assert.Equal(("a", BatchState.Submitting), (stored!.LeaseOwner, stored.State));
        var history = await _store.GetHistoryAsync(job.Id);
        Assert.Single(history, h => h.State == nameof(BatchState.Submitting));
    }

    [Fact]
    public async Task CreatePlannedBatch_MovesItsItemsToInBatch_AndRefusesItemsAlreadyPlanned()
    {
        var job = await NewJobAsync(5);

        await _store.CreatePlannedBatchAsync(job.Id, [1, 2, 3], 10, "tok-1");
        var counts = await _store.GetCountsAsync(job.Id);

        Assert.Equal((3L, 2L), (counts.InBatch, counts.Pending));
        await Assert.ThrowsAsync<PlanningConflictException>(() => _store.CreatePlannedBatchAsync(job.Id, [3, 4], 5, "tok-2"));
        Assert.Equal(3, (await _store.GetCountsAsync(job.Id)).InBatch);
    }

    [Fact]
    public async Task ApplyResults_AStaleAttemptNeverOverwritesANewerOne()
    {
        // Given item 1 failed in batch A and was resumed into batch B, which succeeded
        var job = await NewJobAsync(2);
        var a = await _store.CreatePlannedBatchAsync(job.Id, [1, 2], 10, "tok-a");
        await _store.ApplyResultsAsync(a.Id, [new ResultLine { CustomId = "row-1", Kind = ResultKind.Failed, ErrorCode = "server_error", ErrorMessage = "boom" }, Ok("row-2")]);
        Assert.Equal(1, await _store.ElectForRetryAsync(job.Id, [ItemStatus.Failed], []));
        var b = await _store.CreatePlannedBatchAsync(job.Id, [1], 5, "tok-b");
        await _store.ApplyResultsAsync(b.Id, [Ok("row-1", "new answer")]);

        // When batch A's results are applied again (a late or repeated download)
        var replay = await _store.ApplyResultsAsync(a.Id, [new ResultLine { CustomId = "row-1", Kind = ResultKind.Failed, ErrorCode = "server_error", ErrorMessage = "boom" }, Ok("row-2"), Ok("row-999")]);

        // Then nothing changes and each line is classified
        Assert.Equal(0, replay.Applied);
        Assert.Equal(["row-1"], replay.Stale);
        Assert.Equal(["row-2"], replay.AlreadyApplied);
        Assert.Equal(["row-999"], replay.Unknown);
        var items = await ToListAsync(_store.ReadItemsAsync(job.Id));
        Assert.Equal((ItemStatus.Succeeded, "new answer", 2), (items[0].Status, items[0].ResultText, items[0].Attempt));
    }

    [Fact]
    public async Task ElectForRetry_SkipsNonRetryableCodes_AndEndRemainingOnlyTouchesTheBatch()
    {
        var job = await NewJobAsync(4);
        var a = await _store.CreatePlannedBatchAsync(job.Id, [1, 2, 3, 4], 10, "tok-a");
        await _store.ApplyResultsAsync(a.Id,
        [
            new ResultLine { CustomId = "row-1", Kind = ResultKind.Failed, ErrorCode = "context_length_exceeded", ErrorMessage = "too long" },
            new ResultLine { CustomId = "row-2", Kind = ResultKind.Failed, ErrorCode = "server_error", ErrorMessage = "boom" },
            Ok("row-3"),
        ]);
        Assert.Equal(1, await _store.EndRemainingAsync(a.Id, ItemStatus.Expired, "batch_expired", "late"));

        var elected = await _store.ElectForRetryAsync(job.Id, [ItemStatus.Failed, ItemStatus.Expired, ItemStatus.Cancelled], ["context_length_exceeded"]);

        Assert.Equal(2, elected);
        var items = await ToListAsync(_store.ReadItemsAsync(job.Id));
        Assert.Equal([ItemStatus.Failed, ItemStatus.Pending, ItemStatus.Succeeded, ItemStatus.Pending], items.Select(i => i.Status));
        Assert.Equal([1, 2, 1, 2], items.Select(i => i.Attempt));
        Assert.Null(items[1].BatchId);
    }

    [Fact]
    public async Task AppendItems_DuplicateCustomId_ThrowsWithTheRow_AndInsertsNothingOfTheChunk()
    {
        var job = await NewJobAsync(1);

        var ex = await Assert.ThrowsAsync<DuplicateCustomIdException>(() => _store.AppendItemsAsync(job.Id, [new NewItem(2, "x", 3, ["a"]), new NewItem(3, "x", 4, ["b"])]));

        Assert.Equal(("x", 4L), (ex.CustomId, ex.SourceRow));
        Assert.Equal(1, await _store.GetMaxItemSeqAsync(job.Id));
    }

    [Fact]
    public async Task Counts_SumTokensOfSucceededItems()
    {
        var job = await NewJobAsync(2);
        var a = await _store.CreatePlannedBatchAsync(job.Id, [1, 2], 10, "tok-a");
        await _store.ApplyResultsAsync(a.Id, [Ok("row-1"), Ok("row-2")]);

        var c = await _store.GetCountsAsync(job.Id);

        Assert.Equal((2L, 6L, 8L, 2L), (c.Succeeded, c.InputTokens, c.OutputTokens, c.CachedTokens));
    }

    [Fact]
    public async Task GetJob_ByUniquePrefixOrName_AndAmbiguousPrefixIsAUserError()
    {
        await NewJobAsync(1, "job-abc111");
        await NewJobAsync(1, "job-abc222");

        Assert.Equal("job-abc111", (await _store.GetJobAsync("job-abc1"))!.Id);
        Assert.Null(await _store.GetJobAsync("job-zzz"));
        var ex = await Assert.ThrowsAsync<InputException>(() => _store.GetJobAsync("job-abc"));
        Assert.Contains("matches several jobs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_IsSharedAcrossConnections_AndDeleteRemovesEverything()
    {
        var job = await NewJobAsync(2);
        using (var other = SqliteJobStore.Open(_ws.PathOf("store.db")))
        {
            Assert.Equal(2, (await other.GetCountsAsync(job.Id)).Total);
            await other.DeleteJobAsync(job.Id);
        }

        Assert.Null(await _store.GetJobAsync(job.Id));
        Assert.Equal(0, (await _store.GetCountsAsync(job.Id)).Total);
        Assert.Empty(await _store.GetHistoryAsync(job.Id));
    }

    [Fact]
    public async Task ApplyResults_KeepsTheProvidersLine_AndANewAttemptClearsIt()
    {
        // Given two results, one carrying the provider's line verbatim (a raw job) and one without (a table job)
        var job = await NewJobAsync(2);
        var a = await _store.CreatePlannedBatchAsync(job.Id, [1, 2], 10, "tok-a");
        const string line = """{"id":"batch_req_1","custom_id":"row-1","response":{"status_code":500,"request_id":"r","body":{"error":{"message":"Ça a échoué","type":"server_error"}}},"error":null}""";

        // When they are applied, and the failed one is elected for a new attempt
        await _store.ApplyResultsAsync(a.Id, [new ResultLine { CustomId = "row-1", Kind = ResultKind.Failed, ErrorCode = "server_error", Raw = line }, Ok("row-2")]);
        var stored = await ToListAsync(_store.ReadItemsAsync(job.Id));
        await _store.ElectForRetryAsync(job.Id, [ItemStatus.Failed], []);
        var retried = await ToListAsync(_store.ReadItemsAsync(job.Id));

        // Then the line is kept exactly until the new attempt replaces the result
        Assert.Equal([line, null], stored.Select(i => i.RawResult));
        Assert.Equal([null, null], retried.Select(i => i.RawResult));
        Assert.Equal(ItemStatus.Pending, retried[0].Status);
    }

    [Fact]
    public async Task Open_AVersion2Store_AddsTheRawResultColumn_AndKeepsItsItems()
    {
        // Given a store as version 2 left it (no raw_result column)
        var path = _ws.PathOf("v2.db");
        OldStore.Create(path, 2, OldStore.OneJob);

        // When this version opens it
        using var store = SqliteJobStore.Open(path);
        var items = await ToListAsync(store.ReadItemsAsync("job-old"));

        // Then every migration ran and the items are intact
        Assert.Equal(store.SchemaVersion, OldStore.VersionOf(path));
        Assert.Equal(["row-1", "row-2"], items.Select(i => i.CustomId));
        Assert.Equal(["a", "b"], items.Select(i => i.ResultText));
        Assert.All(items, i => Assert.Null(i.RawResult));
    }

    [Fact]
    public void Open_NotADatabase_IsAStoreError()
    {
        var path = _ws.Write("junk.db", new string('x', 4096));

        var ex = Assert.Throws<InputException>(() => SqliteJobStore.Open(path));

        Assert.Equal(ExitCodes.StoreError, ex.ExitCode);
        Assert.Contains("not a BatchPilot store", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateJobUnlessFingerprintExists_TwoStoresAtOnce_CreateOneJob_AndTheOtherGetsIt()
    {
        // Given two processes' stores on one file, each about to create the job of the same command
        using var other = SqliteJobStore.Open(_ws.PathOf("store.db"));
        var spec = new JobSpec { InputPath = "in.csv", InputSha256 = "h", Provider = "openai", Model = "gpt-4o-mini", Prompt = "{{a}}", Endpoint = "emulator" };
        JobRecord Job(string id) => new() { Id = id, Name = "t", Spec = spec, Fingerprint = spec.Fingerprint(), Status = JobStatus.Preparing, Columns = ["a"], CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch };

        // When both create it at the same time
        var results = await Task.WhenAll(
            Task.Run(() => _store.CreateJobUnlessFingerprintExistsAsync(Job("job-aaaaaa"))),
            Task.Run(() => other.CreateJobUnlessFingerprintExistsAsync(Job("job-bbbbbb"))));

        // Then one inserted its job and the other was handed that job
        var existing = Assert.Single(results, r => r is not null)!;
        Assert.Single(results, r => r is null);
        var jobs = await _store.ListJobsAsync(10);
        Assert.Equal(existing.Id, Assert.Single(jobs).Id);
        Assert.Equal(existing.Id, (await _store.CreateJobUnlessFingerprintExistsAsync(Job("job-cccccc")))?.Id);
    }

    [Fact]
    public async Task AppendItems_TheSameRowsStoredAgain_AreLeftAsTheyAre_ButARepeatedIdElsewhereStillThrows()
    {
        // Given a job whose first rows were stored by another process reading the same input
        var job = await NewJobAsync(2);

        // When the same rows and the next ones are appended again
        await _store.AppendItemsAsync(job.Id, [new NewItem(1, "row-1", 2, ["v1"]), new NewItem(2, "row-2", 3, ["v2"]), new NewItem(3, "row-3", 4, ["v3"])]);

        // Then each row is stored once, and an id repeated at another seq is still refused
        Assert.Equal(3, (await _store.GetCountsAsync(job.Id)).Total);
        var ex = await Assert.ThrowsAsync<DuplicateCustomIdException>(() => _store.AppendItemsAsync(job.Id, [new NewItem(4, "row-1", 5, ["v4"])]));
        Assert.Equal(5, ex.SourceRow);
        Assert.Equal(3, await _store.GetMaxItemSeqAsync(job.Id));
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var x in source)
        {
            list.Add(x);
        }

        return list;
    }
}
