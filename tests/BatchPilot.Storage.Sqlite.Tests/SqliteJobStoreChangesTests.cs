using BatchPilot.Jobs;
using BatchPilot.Testing;

namespace BatchPilot.Storage.Sqlite.Tests;

/// <summary>How the dashboard follows the store: the jobs updated since a time, and the number of jobs.</summary>
public sealed class SqliteJobStoreChangesTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TempWorkspace _ws = new();
    private readonly SqliteJobStore _store;

    public SqliteJobStoreChangesTests() => _store = SqliteJobStore.Open(_ws.PathOf("store.db"));

    public void Dispose()
    {
        _store.Dispose();
        _ws.Dispose();
    }

    private Task CreateAsync(string id, DateTimeOffset at)
    {
        var spec = new JobSpec { InputPath = "in.csv", InputSha256 = "h", Provider = "openai", Model = "gpt-4o-mini", Prompt = "{{a}}", Endpoint = "emulator" };
        return _store.CreateJobAsync(new JobRecord { Id = id, Name = id, Spec = spec, Fingerprint = id, Status = JobStatus.Preparing, Columns = ["a"], CreatedAt = at, UpdatedAt = at });
    }

    [Fact]
    public async Task ListJobsUpdatedSince_ReturnsOnlyTheJobsUpdatedAtOrAfterTheTime_NewestFirst_AndCountsEveryJob()
    {
        // Given three jobs updated 10 s apart
        await CreateAsync("job-a", T0);
        await CreateAsync("job-b", T0.AddSeconds(10));
        await CreateAsync("job-c", T0.AddSeconds(20));

        // When asked for those since the second, then after the first one's status changed (now)
        var since = await _store.ListJobsUpdatedSinceAsync(T0.AddSeconds(10));
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await _store.TrySetJobStatusAsync("job-a", [JobStatus.Preparing], JobStatus.Pending, "All rows read.", 0);
        var changed = await _store.ListJobsUpdatedSinceAsync(before);

        // Then the second and third come back, newest first, with every job counted; then only the changed one
        Assert.Equal(["job-c", "job-b"], since.Jobs.Select(j => j.Id));
        Assert.Equal(3, since.TotalJobs);
        Assert.Equal("job-a", Assert.Single(changed.Jobs).Id);
        Assert.Equal(JobStatus.Pending, changed.Jobs[0].Status);
        Assert.Equal(3, changed.TotalJobs);
    }
}
