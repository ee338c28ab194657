using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Testing;

namespace BatchPilot.Storage.Sqlite.Tests;

/// <summary>The dashboard's bulk reads: every job's counts in one query, and item pages walked by seq.</summary>
public sealed class SqliteJobStoreReadTests : IDisposable
{
    private readonly TempWorkspace _ws = new();
    private readonly SqliteJobStore _store;

    public SqliteJobStoreReadTests() => _store = SqliteJobStore.Open(_ws.PathOf("store.db"));

    public void Dispose()
    {
        _store.Dispose();
        _ws.Dispose();
    }

    private async Task<JobRecord> NewJobAsync(string id, int items)
    {
        var spec = new JobSpec { InputPath = "in.csv", InputSha256 = "h", Provider = "openai", Model = "gpt-4o-mini", Prompt = "{{a}}", Endpoint = "emulator" };
        var job = new JobRecord { Id = id, Name = id, Spec = spec, Fingerprint = spec.Fingerprint() + id, Status = JobStatus.Preparing, Columns = ["a"], CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch };
        await _store.CreateJobAsync(job);
        if (items > 0)
        {
            await _store.AppendItemsAsync(job.Id, Enumerable.Range(1, items).Select(i => new NewItem(i, "row-" + i, i + 1, ["v" + i])).ToList());
        }

        return job;
    }

    private static ResultLine Ok(string id) => new() { CustomId = id, Kind = ResultKind.Succeeded, Text = "ok", Usage = new TokenUsage(3, 4, 1) };

    private static ResultLine Failed(string id) => new() { CustomId = id, Kind = ResultKind.Failed, ErrorCode = "bad", ErrorMessage = "bad" };

    [Fact]
    public async Task GetAllCounts_MatchesGetCountsOfEveryJob_AndOmitsJobsWithoutItems()
    {
        // Arrange: three jobs in different states, one without items.
        var a = await NewJobAsync("job-a", 5);
        var b = await NewJobAsync("job-b", 3);
        await NewJobAsync("job-empty", 0);
        var batch = await _store.CreatePlannedBatchAsync(a.Id, [1, 2, 3], 10, "tok-a");
        await _store.ApplyResultsAsync(batch.Id, [Ok("row-1"), Ok("row-2"), Failed("row-3")]);
        await _store.CancelPendingItemsAsync(b.Id);

        // Act
        var all = await _store.GetAllCountsAsync();

        // Assert
        Assert.Equal(["job-a", "job-b"], all.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(await _store.GetCountsAsync(a.Id), all[a.Id]);
        Assert.Equal(await _store.GetCountsAsync(b.Id), all[b.Id]);
        Assert.Equal(new JobCounts { Total = 5, Pending = 2, Succeeded = 2, Failed = 1, InputTokens = 6, OutputTokens = 8, CachedTokens = 2 }, all[a.Id]);
        Assert.Equal(new JobCounts { Total = 3, Cancelled = 3 }, all[b.Id]);
    }

    [Fact]
    public async Task GetAllCounts_ReturnsAnEmptyDictionary_WhenTheStoreHasNoItems()
    {
        // Arrange
        await NewJobAsync("job-a", 0);

        // Act
        var all = await _store.GetAllCountsAsync();

        // Assert
        Assert.Empty(all);
    }

    [Fact]
    public async Task ReadItemsPage_WalksSeqsAfterTheGivenOne_InOrder_UpToTheLimit()
    {
        // Arrange
        var job = await NewJobAsync("job-a", 10);
        await NewJobAsync("job-b", 10);

        // Act
        var first = await _store.ReadItemsPageAsync(job.Id, null, 0, 4);
        var second = await _store.ReadItemsPageAsync(job.Id, null, first[^1].Seq, 4);
        var last = await _store.ReadItemsPageAsync(job.Id, null, 8, 4);
        var beyond = await _store.ReadItemsPageAsync(job.Id, null, 10, 4);

        // Assert
        Assert.Equal([1L, 2, 3, 4], first.Select(i => i.Seq));
        Assert.Equal([5L, 6, 7, 8], second.Select(i => i.Seq));
        Assert.Equal([9L, 10], last.Select(i => i.Seq));
        Assert.Empty(beyond);
        Assert.All(first.Concat(second), i => Assert.Equal(job.Id, i.JobId));
        Assert.Equal("v1", Assert.Single(first[0].Values));
    }

    [Fact]
    public async Task ReadItemsPage_KeepsOnlyTheGivenStatus_WhenOneIsGiven()
    {
        // Arrange: items 1..3 in a batch, 2 failed, 1 and 3 succeeded, 4..6 pending.
        var job = await NewJobAsync("job-a", 6);
        var batch = await _store.CreatePlannedBatchAsync(job.Id, [1, 2, 3], 10, "tok-a");
        await _store.ApplyResultsAsync(batch.Id, [Ok("row-1"), Failed("row-2"), Ok("row-3")]);

        // Act
        var succeeded = await _store.ReadItemsPageAsync(job.Id, ItemStatus.Succeeded, 0, 10);
        var failed = await _store.ReadItemsPageAsync(job.Id, ItemStatus.Failed, 0, 10);
        var pendingAfter4 = await _store.ReadItemsPageAsync(job.Id, ItemStatus.Pending, 4, 1);

        // Assert
        Assert.Equal([1L, 3], succeeded.Select(i => i.Seq));
        Assert.Equal("ok", succeeded[0].ResultText);
        Assert.Equal([2L], failed.Select(i => i.Seq));
        Assert.Equal("bad", failed[0].ErrorCode);
        Assert.Equal([5L], pendingAfter4.Select(i => i.Seq));
    }

    [Fact]
    public async Task ReadItemsPage_ReturnsNothing_ForAnUnknownJob()
    {
        // Arrange
        await NewJobAsync("job-a", 3);

        // Act
        var items = await _store.ReadItemsPageAsync("job-zzz", null, 0, 10);

        // Assert
        Assert.Empty(items);
    }
    [Fact]
    public async Task EndPendingItems_EndsOnlyPendingItems_WithTheirOwnCodeAndMessage_AndWritesHistory()
    {
        // Arrange: row-1 is already in a batch; rows 2 and 3 are pending
        var job = await NewJobAsync("job-img", 3);
        await _store.CreatePlannedBatchAsync(job.Id, [1], 10, "tok-img");
        ResultLine NotSent(string id, ResultKind kind, string code) => new() { CustomId = id, Kind = kind, ErrorCode = code, ErrorMessage = "image of " + id };

        // Act
        var n = await _store.EndPendingItemsAsync(job.Id,
            [NotSent("row-1", ResultKind.Failed, "image_not_found"), NotSent("row-2", ResultKind.Failed, "image_not_found"), NotSent("row-3", ResultKind.Cancelled, "image_skipped"), NotSent("row-9", ResultKind.Failed, "x")],
            "2 item(s) not sent because of their image.");

        // Assert
        Assert.Equal(2, n);
        var items = await _store.ReadItemsPageAsync(job.Id, null, 0, 10);
        Assert.Equal([ItemStatus.InBatch, ItemStatus.Failed, ItemStatus.Cancelled], items.Select(i => i.Status));
        Assert.Equal([null, "image_not_found", "image_skipped"], items.Select(i => i.ErrorCode));
        Assert.Equal("image of row-2", items[1].ErrorMessage);
        Assert.Contains(await _store.GetHistoryAsync(job.Id), h => h.State == "NotSent" && h.Reason == "2 item(s) not sent because of their image.");
    }
}
