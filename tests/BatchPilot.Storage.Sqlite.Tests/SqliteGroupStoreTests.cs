using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Testing;

namespace BatchPilot.Storage.Sqlite.Tests;

/// <summary>Comparison groups in the SQLite store (schema v4): real files, the store's own API.</summary>
public sealed class SqliteGroupStoreTests : IDisposable
{
    private static readonly DateTimeOffset At = new(2025, 6, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly TempWorkspace _ws = new();
    private readonly SqliteJobStore _store;

    public SqliteGroupStoreTests() => _store = SqliteJobStore.Open(_ws.PathOf("store.db"));

    public void Dispose()
    {
        _store.Dispose();
        _ws.Dispose();
    }

    private static GroupRecord Group(string id, string name, params (string Label, string JobId)[] members) => new()
    {
        Id = id,
        Name = name,
        Fingerprint = GroupRecord.FingerprintOf(members.Select(m => "fp-" + m.JobId)),
        CreatedAt = At,
        Members = members.Select((m, i) => new GroupMember(i, m.Label, m.JobId, "fp-" + m.JobId)).ToList(),
    };

    private async Task NewJobAsync(string id)
    {
        var spec = new JobSpec { InputPath = "in.csv", InputSha256 = "h", Provider = "openai", Model = "gpt-4o-mini", Prompt = "{{a}}", Endpoint = "emulator" };
        await _store.CreateJobAsync(new JobRecord { Id = id, Name = "t", Spec = spec, Fingerprint = "fp-" + id, Status = JobStatus.Preparing, Columns = ["a"], CreatedAt = At, UpdatedAt = At });
    }

    [Fact]
    public async Task CreateGroup_IsFoundByFingerprintIdPrefixAndName_WithItsMembersInOrder()
    {
        // Given a group of three variants, created before its jobs exist
        var group = Group("grp-a1b2c3", "reviews", ("gpt-4o-mini", "job-000003"), ("claude-haiku-4-5", "job-000001"), ("gpt-4.1", "job-000002"));

        // When it is stored
        await _store.CreateGroupAsync(group);

        // Then every lookup returns it whole, members in their positions
        foreach (var found in new[]
        {
            await _store.FindGroupByFingerprintAsync(group.Fingerprint),
            await _store.GetGroupAsync("grp-a1b2c3"),
            await _store.GetGroupAsync("grp-a1"),
            await _store.GetGroupAsync("reviews"),
            await _store.GetGroupOfJobAsync("job-000001"),
        })
        {
            Assert.NotNull(found);
            Assert.Equal(("grp-a1b2c3", "reviews", At), (found.Id, found.Name, found.CreatedAt));
            Assert.Equal(["gpt-4o-mini", "claude-haiku-4-5", "gpt-4.1"], found.Members.Select(m => m.Label));
            Assert.Equal(["job-000003", "job-000001", "job-000002"], found.Members.Select(m => m.JobId));
            Assert.Equal([0, 1, 2], found.Members.Select(m => m.Position));
            Assert.Equal("fp-job-000001", found.Members[1].Fingerprint);
        }

        Assert.Null(await _store.GetGroupAsync("grp-ffffff"));
        Assert.Null(await _store.GetGroupOfJobAsync("job-999999"));
        Assert.Null(await _store.FindGroupByFingerprintAsync(GroupRecord.FingerprintOf(["fp-job-000003"])));
    }

    [Fact]
    public async Task CreateGroup_WritesAVariantHistoryRowOnEachChild()
    {
        await NewJobAsync("job-000001");

        await _store.CreateGroupAsync(Group("grp-a1b2c3", "reviews", ("gpt-4o-mini", "job-000001"), ("claude-haiku-4-5", "job-000002")));

        var history = await _store.GetHistoryAsync("job-000001");
        Assert.Equal("Variant 'gpt-4o-mini' of comparison grp-a1b2c3 (reviews).", history[^1].Reason);
        Assert.Equal("group", history[^1].Kind);
    }

    [Fact]
    public async Task CreateGroup_AJobAlreadyInAnotherGroup_IsRefused_AndNothingOfTheNewGroupIsStored()
    {
        await _store.CreateGroupAsync(Group("grp-000001", "first", ("a", "job-000001"), ("b", "job-000002")));

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => _store.CreateGroupAsync(Group("grp-000002", "second", ("c", "job-000003"), ("b", "job-000002"))));

        Assert.Contains("job-000002", ex.Message, StringComparison.Ordinal);
        Assert.Null(await _store.GetGroupAsync("grp-000002"));
        Assert.Null(await _store.GetGroupOfJobAsync("job-000003"));
        Assert.Equal("grp-000001", (await _store.GetGroupOfJobAsync("job-000002"))!.Id);
    }

    [Fact]
    public async Task GetGroup_APrefixOfTwoGroups_IsAnInputError_AndTheNewestOfANameWins()
    {
        await _store.CreateGroupAsync(Group("grp-ab0001", "reviews", ("a", "job-000001")));
        await _store.CreateGroupAsync(Group("grp-ab0002", "reviews", ("a", "job-000002")) with { CreatedAt = At.AddMinutes(1) });

        var ex = await Assert.ThrowsAsync<InputException>(() => _store.GetGroupAsync("grp-ab"));

        Assert.Equal("'grp-ab' matches several comparison groups", ex.Message);
        Assert.Equal("grp-ab0002", (await _store.GetGroupAsync("reviews"))!.Id);
    }

    [Fact]
    public async Task DeleteGroup_RemovesTheGroupAndItsMembers_ButNotTheJobs()
    {
        await NewJobAsync("job-000001");
        await _store.CreateGroupAsync(Group("grp-a1b2c3", "reviews", ("a", "job-000001")));

        await _store.DeleteGroupAsync("grp-a1b2c3");

        Assert.Null(await _store.GetGroupAsync("grp-a1b2c3"));
        Assert.Null(await _store.GetGroupOfJobAsync("job-000001"));
        Assert.NotNull(await _store.GetJobAsync("job-000001"));

        // The job may join a new group afterwards
        await _store.CreateGroupAsync(Group("grp-d4e5f6", "again", ("a", "job-000001")));
        Assert.Equal("grp-d4e5f6", (await _store.GetGroupOfJobAsync("job-000001"))!.Id);
    }

    [Fact]
    public async Task Open_AVersion3Store_AddsTheGroupTables_AndKeepsItsJobs()
    {
        // Given a store as version 3 left it (no group tables)
        var path = _ws.PathOf("v3.db");
        OldStore.Create(path, 3, OldStore.OneJob);

        // When this version opens it
        using var store = SqliteJobStore.Open(path);

        // Then the job is intact and groups work
        Assert.NotNull(await store.GetJobAsync("job-old"));
        await store.CreateGroupAsync(Group("grp-a1b2c3", "reviews", ("a", "job-old")));
        Assert.Equal("grp-a1b2c3", (await store.GetGroupOfJobAsync("job-old"))!.Id);
    }
}
