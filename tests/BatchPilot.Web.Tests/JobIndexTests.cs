using BatchPilot.Jobs;
using BatchPilot.Storage.Sqlite;
using BatchPilot.Testing;
using BatchPilot.Web.Data;
using BatchPilot.Web.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Web.Tests;

public sealed class JobIndexTests
{
    private static JobRecord Job(string id, DateTimeOffset at) => new()
    {
        Id = id,
        Name = id,
        Spec = new JobSpec { InputPath = "x.csv", InputSha256 = "0", Provider = "openai", Model = "gpt-4o-mini", Prompt = "p {{a}}", Endpoint = "emulator" },
        Fingerprint = id,
        Status = JobStatus.Preparing,
        Columns = ["a"],
        CreatedAt = at,
        UpdatedAt = at,
    };

    [Fact]
    public async Task RefreshThatFindsNothingNew_KeepsTheSnapshot_SoItsSortedOrdersStay()
    {
        // Given an index of a store with jobs, and a sorted order computed from it
        using var ws = new TempWorkspace();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var store = SqliteJobStore.Open(ws.PathOf("jobs.db"), time);
        for (var i = 0; i < 5; i++)
        {
            await store.CreateJobAsync(Job($"job-{i}", time.GetUtcNow()));
        }

        var index = new JobIndex(store, time);
        await index.RefreshAsync(CancellationToken.None);
        var before = index.Current;
        var sorted = index.Query(new JobQuery { Sort = "name" }).Jobs;

        // When it is refreshed with nothing changed, then after a status change
        time.Advance(TimeSpan.FromSeconds(1));
        var changedWhenIdle = await index.RefreshAsync(CancellationToken.None);
        var idle = index.Current;
        await store.TrySetJobStatusAsync("job-3", [JobStatus.Preparing], JobStatus.Pending, "All rows read.", 0);
        time.Advance(TimeSpan.FromSeconds(1));
        var changedAfterStatus = await index.RefreshAsync(CancellationToken.None);

        // Then the idle refresh keeps the very same snapshot (and its memoized order); the change makes a new version
        Assert.False(changedWhenIdle);
        Assert.Same(before, idle);
        Assert.Equal(sorted, idle.Memo<JobSummary[]>("sort:name:True", _ => throw new InvalidOperationException("the order was computed again")));
        Assert.True(changedAfterStatus);
        Assert.Equal(before.Version + 1, index.Current.Version);
        Assert.Equal(JobStatus.Pending, index.Find("job-3")!.Job.Status);
    }

    [Fact]
    public async Task ResponseCache_RendersOncePerIndexVersionAndTimeBucket_AndForgetsAFailedRender()
    {
        using var ws = new TempWorkspace();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var store = SqliteJobStore.Open(ws.PathOf("jobs.db"), time);
        var index = new JobIndex(store, time);
        await index.RefreshAsync(CancellationToken.None);
        var cache = new ResponseCache(index, time);
        var renders = 0;
        byte[] Render()
        {
            Interlocked.Increment(ref renders);
            return [(byte)renders];
        }

        // Many requests at once for the same page render it once
        var bodies = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => cache.GetOrRender("page", Render))));
        Assert.Equal(1, renders);
        Assert.All(bodies, b => Assert.Same(bodies[0], b));

        // The clock moving past the bucket, and a change in the store, each render it again
        time.Advance(ResponseCache.TimeBucket);
        cache.GetOrRender("page", Render);
        Assert.Equal(2, renders);
        await store.CreateJobAsync(Job("job-new", time.GetUtcNow()));
        await index.RefreshAsync(CancellationToken.None);
        cache.GetOrRender("page", Render);
        cache.GetOrRender("page", Render);
        Assert.Equal(3, renders);

        // A render that throws is not kept: the next request renders again
        Assert.Throws<InvalidOperationException>(() => cache.GetOrRender("broken", () => throw new InvalidOperationException("boom")));
        Assert.Equal([7], cache.GetOrRender("broken", () => [7]));
    }
}
