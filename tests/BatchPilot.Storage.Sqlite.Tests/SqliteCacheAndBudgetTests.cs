using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Storage.Sqlite.Tests;

/// <summary>The response cache, batch usage, budget reservations and the v3 migration, on real SQLite files.</summary>
public sealed class SqliteCacheAndBudgetTests : IDisposable
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private readonly TempWorkspace _ws = new();
    private readonly FakeTimeProvider _time = new(Noon);
    private readonly SqliteJobStore _store;

    public SqliteCacheAndBudgetTests() => _store = SqliteJobStore.Open(_ws.PathOf("store.db"), _time);

    public void Dispose()
    {
        _store.Dispose();
        _ws.Dispose();
    }

    private async Task<JobRecord> NewJobAsync(int items, string id = "job-000001")
    {
        var spec = new JobSpec { InputPath = "in.csv", InputSha256 = "h", Provider = "openai", Model = "gpt-4o-mini", Prompt = "{{a}}", Endpoint = "emulator" };
        var job = new JobRecord { Id = id, Name = "t", Spec = spec, Fingerprint = spec.Fingerprint() + id, Status = JobStatus.Preparing, Columns = ["a"], CreatedAt = Noon, UpdatedAt = Noon };
        await _store.CreateJobAsync(job);
        await _store.AppendItemsAsync(job.Id, Enumerable.Range(1, items).Select(i => new NewItem(i, "row-" + i, i + 1, ["v" + i])).ToList());
        Assert.True(await _store.TrySetJobStatusAsync(job.Id, [JobStatus.Preparing], JobStatus.Pending, "ready", items));
        return (await _store.GetJobAsync(job.Id))!;
    }

    private static ResultLine Ok(string id, string text = "ok") => new() { CustomId = id, Kind = ResultKind.Succeeded, Text = text, Usage = new TokenUsage(30, 40, 10) };

    private BudgetLimits Limits(decimal? amount, decimal? job = null, decimal? daily = null) =>
        new() { AmountUsd = amount, JobLimitUsd = job, DailyLimitUsd = daily, DayStart = new DateTimeOffset(_time.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero) };

    private Task<ReserveResult> ClaimAsync(BatchRecord batch, BudgetLimits limits) =>
        _store.TryReserveAsync(batch.Id, [BatchState.Planned], BatchState.Submitting, new BatchUpdate { LeaseOwner = "me" }, limits, "claim");

    [Fact]
    public async Task RememberAnswers_StoresOnlySucceededAnswersOfKeyedItems_AndRepeatsSafely()
    {
        // Given a batch of three items planned with cache keys: one result succeeded, one failed, one never came
        var job = await NewJobAsync(3);
        var batch = await _store.CreatePlannedBatchAsync(job.Id, new PlannedBatch { Seqs = [1, 2, 3], Token = "t1", CacheKeys = ["k1", "k2", "k3"] });
        await _store.ApplyResultsAsync(batch.Id, [Ok("row-1", "answer one"), new ResultLine { CustomId = "row-2", Kind = ResultKind.Failed, ErrorCode = "server_error", ErrorMessage = "boom" }]);
        Assert.Empty(await _store.FindCachedAsync(["k1"]));

        // When the batch's answers are remembered (twice, as after a crash before the batch was marked collected)
        var stored = await _store.RememberAnswersAsync(batch.Id);
        var again = await _store.RememberAnswersAsync(batch.Id);

        // Then only the succeeded answer is cached, once, with its usage and where it came from
        Assert.Equal((1, 1), (stored, again));
        var found = await _store.FindCachedAsync(["k1", "k2", "k3", "unknown"]);
        var hit = Assert.Single(found).Value;
        Assert.Equal(("k1", "answer one", new TokenUsage(30, 40, 10), "job-000001", "row-1", Noon), (hit.Key, hit.Text, hit.Usage!.Value, hit.JobId, hit.CustomId, hit.CreatedAt));
    }

    [Fact]
    public async Task ApplyResults_OfABatchWithoutKeys_CachesNothing_AndAddsTheAppliedUsageToTheBatchOnce()
    {
        var job = await NewJobAsync(2);
        var batch = await _store.CreatePlannedBatchAsync(job.Id, [1, 2], 10, "t1");

        await _store.ApplyResultsAsync(batch.Id, [Ok("row-1"), Ok("row-2")]);
        await _store.ApplyResultsAsync(batch.Id, [Ok("row-1"), Ok("row-2")]);

        Assert.Equal(0, await _store.RememberAnswersAsync(batch.Id));
        Assert.Empty(await _store.FindCachedAsync(["k1"]));
        Assert.Equal(new TokenUsage(60, 80, 20), (await _store.GetBatchAsync(batch.Id))!.Usage);
    }

    [Fact]
    public async Task GetBilledUsage_SplitsEachJobsUsageByTheApiItsBatchesWentThrough()
    {
        var job = await NewJobAsync(3);
        var batch = await _store.CreatePlannedBatchAsync(job.Id, [1, 2], 0, "b");
        await _store.UpdateBatchAsync(batch.Id, new BatchUpdate { ProviderStatus = "completed" });
        await _store.ApplyResultsAsync(batch.Id, [Ok("row-1"), Ok("row-2")]);
        var chunk = await _store.CreatePlannedBatchAsync(job.Id, [3], 0, "sync-1");
        await _store.UpdateBatchAsync(chunk.Id, new BatchUpdate { ProviderStatus = Running.SyncRunner.SyncStatus });
        await _store.ApplyResultsAsync(chunk.Id, [Ok("row-3")]);

        var billed = await _store.GetBilledUsageAsync();

        Assert.Equal(new BilledUsage(new TokenUsage(60, 80, 20), new TokenUsage(30, 40, 10)), Assert.Single(billed).Value);
    }

    [Fact]
    public async Task ApplyCacheHits_AnswersPendingItemsWithoutUsage_AndCountsThemApart()
    {
        // Given a job of three pending items
        var job = await NewJobAsync(3);

        // When two are answered from the cache, and the same hits come again
        var first = await _store.ApplyCacheHitsAsync(job.Id, [new CacheHit(1, "k1", "cached one"), new CacheHit(2, "k2", "cached two")]);
        var again = await _store.ApplyCacheHitsAsync(job.Id, [new CacheHit(1, "k1", "cached one")]);

        // Then they are succeeded, flagged, unbilled, out of every batch; the repeat changes nothing
        Assert.Equal((2, 0), (first, again));
        var counts = await _store.GetCountsAsync(job.Id);
        Assert.Equal((2L, 2L, 1L, 0L), (counts.Succeeded, counts.FromCache, counts.Pending, counts.InputTokens));
        var items = await _store.ReadItemsPageAsync(job.Id, null, 0, 10);
        Assert.Equal((true, "cached one", (TokenUsage?)null, (long?)null), (items[0].FromCache, items[0].ResultText, items[0].Usage, items[0].BatchId));
        Assert.False(items[2].FromCache);
        Assert.Contains(await _store.GetHistoryAsync(job.Id), h => h.Reason == "2 item(s) answered from the response cache (nothing sent).");
    }

    [Fact]
    public async Task CreatePlannedBatch_WithKeys_RefusesAnItemThatIsNoLongerPending()
    {
        var job = await NewJobAsync(3);
        await _store.ApplyCacheHitsAsync(job.Id, [new CacheHit(2, "k2", "cached")]);

        var ex = await Assert.ThrowsAsync<PlanningConflictException>(() => _store.CreatePlannedBatchAsync(job.Id, new PlannedBatch { Seqs = [1, 2, 3], Token = "t1", CacheKeys = ["k1", "k2", "k3"] }));

        Assert.Contains("found 2 pending items where 3 were expected", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await _store.ListBatchesAsync(job.Id));
        Assert.Equal(2, (await _store.GetCountsAsync(job.Id)).Pending);
    }

    [Fact]
    public async Task TryReserve_RefusesAClaimThatWouldPassTheJobBudget_AndLeavesTheBatchPlanned()
    {
        // Given a job budget of $1.00 with $0.60 reserved by a batch being submitted
        var job = await NewJobAsync(3);
        var a = await _store.CreatePlannedBatchAsync(job.Id, [1], 0, "a");
        var b = await _store.CreatePlannedBatchAsync(job.Id, [2], 0, "b");
        var c = await _store.CreatePlannedBatchAsync(job.Id, [3], 0, "c");
        Assert.True((await ClaimAsync(a, Limits(0.60m, job: 1m))).Reserved);

        // When a batch estimated at $0.50, then one at $0.40, is claimed
        var refused = await ClaimAsync(b, Limits(0.50m, job: 1m));
        var accepted = await ClaimAsync(c, Limits(0.40m, job: 1m));

        // Then the first is refused by the job budget and stays planned, the second fits exactly
        Assert.Equal((false, BudgetKind.Job, 0.60m), (refused.Reserved, refused.RefusedBy!.Value, refused.Spend.Job.ReservedUsd));
        Assert.Equal(BatchState.Planned, (await _store.GetBatchAsync(b.Id))!.State);
        Assert.True(accepted.Reserved);
        var stored = (await _store.GetBatchAsync(c.Id))!;
        Assert.Equal((BatchState.Submitting, 0.40m, Noon, "me"), (stored.State, stored.ReservedUsd!.Value, stored.ReservedAt!.Value, stored.LeaseOwner));
        Assert.Equal(new Spend(0, 1.00m), (await _store.GetSpendAsync(job.Id, Noon.Date)).Job);
    }

    [Fact]
    public async Task GetSpend_CountsTheLargerOfReservationAndActualInFlight_TheActualOnceCollected_AndNothingForAReleasedBatch()
    {
        var job = await NewJobAsync(3);
        var a = await _store.CreatePlannedBatchAsync(job.Id, [1], 0, "a");
        var b = await _store.CreatePlannedBatchAsync(job.Id, [2], 0, "b");
        await ClaimAsync(a, Limits(0.60m));
        await ClaimAsync(b, Limits(0.25m));

        // a reported more than it reserved while in flight; b went back to Planned (a crash before it was sent)
        await _store.UpdateBatchAsync(a.Id, new BatchUpdate { ActualCostUsd = 0.80m });
        await _store.TryTransitionBatchAsync(b.Id, [BatchState.Submitting], BatchState.Planned, new BatchUpdate { ClearLease = true, ClearReservation = true }, "released");
        var inFlight = (await _store.GetSpendAsync(job.Id, Noon.Date)).Job;
        await _store.TryTransitionBatchAsync(a.Id, [BatchState.Submitting], BatchState.Collected, new BatchUpdate { ActualCostUsd = 0.30m }, "collected");
        var settled = (await _store.GetSpendAsync(job.Id, Noon.Date)).Job;

        Assert.Equal(new Spend(0.80m, 0m), inFlight);
        Assert.Equal(new Spend(0.30m, 0m), settled);
        var released = (await _store.GetBatchAsync(b.Id))!;
        Assert.Equal(((decimal?)null, (DateTimeOffset?)null), (released.ReservedUsd, released.ReservedAt));
    }

    [Fact]
    public async Task TryReserve_RefusesByTheDailyBudget_CountingEveryJobOfThatUtcDayOnly()
    {
        // Given job 1 spent $0.50 on one day and reserved $0.70 the next
        var one = await NewJobAsync(2, "job-000001");
        var yesterday = await _store.CreatePlannedBatchAsync(one.Id, [1], 0, "y");
        await _store.TryReserveAsync(yesterday.Id, [BatchState.Planned], BatchState.Collected, new BatchUpdate { ActualCostUsd = 0.50m }, Limits(0.50m), "yesterday");
        _time.Advance(TimeSpan.FromDays(1));
        await ClaimAsync(await _store.CreatePlannedBatchAsync(one.Id, [2], 0, "t"), Limits(0.70m));
        var two = await NewJobAsync(2, "job-000002");
        var next = await _store.CreatePlannedBatchAsync(two.Id, [1], 0, "n");

        // When job 2 reserves $0.40, then $0.30, under a daily budget of $1.00
        var refused = await ClaimAsync(next, Limits(0.40m, daily: 1m));
        var accepted = await ClaimAsync(next, Limits(0.30m, daily: 1m));

        // Then the day before does not count: $0.70 + $0.40 passes, $0.70 + $0.30 fits
        Assert.Equal((false, BudgetKind.Daily, new Spend(0, 0.70m)), (refused.Reserved, refused.RefusedBy!.Value, refused.Spend.Day));
        Assert.True(accepted.Reserved);
        Assert.Equal(new Spend(0.50m, 0), (await _store.GetSpendAsync(one.Id, Noon.Date)).Day);
    }

    [Fact]
    public async Task SetJobBudget_IsReadBack_AndDeleteJob_RemovesTheCacheEntriesItProduced()
    {
        var job = await NewJobAsync(1);
        var other = await NewJobAsync(1, "job-000002");
        Assert.True(await _store.SetJobBudgetAsync(job.Id, 2.5m, "Budget set to $2.50."));
        var batch = await _store.CreatePlannedBatchAsync(job.Id, new PlannedBatch { Seqs = [1], Token = "t1", CacheKeys = ["k1"] });
        await _store.ApplyResultsAsync(batch.Id, [Ok("row-1")]);
        await _store.RememberAnswersAsync(batch.Id);
        var kept = await _store.CreatePlannedBatchAsync(other.Id, new PlannedBatch { Seqs = [1], Token = "t2", CacheKeys = ["k2"] });
        await _store.ApplyResultsAsync(kept.Id, [Ok("row-1")]);
        await _store.RememberAnswersAsync(kept.Id);

        Assert.Equal(2.5m, (await _store.GetJobAsync(job.Id))!.BudgetUsd);
        Assert.Contains(await _store.GetHistoryAsync(job.Id), h => h.State == "Budget" && h.Reason == "Budget set to $2.50.");
        await _store.DeleteJobAsync(job.Id);

        Assert.Equal(["k2"], (await _store.FindCachedAsync(["k1", "k2"])).Keys);
        Assert.False(await _store.SetJobBudgetAsync(job.Id, 1m, "gone"));
    }

    [Fact]
    public async Task Open_AVersion4Store_MigratesToTheCacheAndBudgetSchema_WithBatchUsageFromItsItems()
    {
        // Given a store written before the cache and budgets (version 4): one collected batch whose two items have usage
        var path = _ws.PathOf("v4.db");
        OldStore.Create(path, 4, OldStore.OneJob);

        // When the current version opens it
        using var store = SqliteJobStore.Open(path);

        // Then the schema is current, the batch carries its items' usage, and nothing is cached or budgeted
        Assert.Equal(store.SchemaVersion, OldStore.VersionOf(path));
        var batch = Assert.Single(await store.ListBatchesAsync("job-old"));
        Assert.Equal((new TokenUsage(11, 22, 5), DateTimeOffset.FromUnixTimeMilliseconds(5000), (decimal?)null), (batch.Usage, batch.ReservedAt!.Value, batch.ActualUsd));
        Assert.Null((await store.GetJobAsync("job-old"))!.BudgetUsd);
        Assert.Equal(0, (await store.GetCountsAsync("job-old")).FromCache);
    }
}
