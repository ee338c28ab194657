using BatchPilot.Emulator;
using BatchPilot.Providers.Http;
using BatchPilot.Testing;

namespace BatchPilot.Providers.Tests;

/// <summary>Transient faults are retried with the server's hints; creates are never blindly retried.</summary>
public sealed class RetryTests
{
    private static IBatchClient Client(EmulatorHost emu, string provider = ProviderNames.OpenAI) => BatchClients.Create(new BatchClientOptions
    {
        Provider = provider,
        BaseUrl = new Uri(provider == ProviderNames.OpenAI ? emu.OpenAIBaseUrl : emu.AnthropicBaseUrl),
        ApiKey = "sk-test",
        SpoolDirectory = Path.Combine(Path.GetTempPath(), "bp-spool-tests"),
        Retry = new RetryOptions { BaseDelay = TimeSpan.FromMilliseconds(20), MaxRetries = 4 },
    });

    private static async IAsyncEnumerable<IdentifiedRequest> Requests(int n)
    {
        await Task.Yield();
        for (var i = 1; i <= n; i++)
        {
            yield return new IdentifiedRequest("row-" + i, new LlmRequest { Model = "gpt-4o-mini", UserText = "hello " + i });
        }
    }

    [Theory]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Get_RetriesTransientStatusesUntilItSucceeds(int status)
    {
        await using var emu = await EmulatorHost.StartAsync();
        using var client = Client(emu);
        var staged = await client.StageAsync(new BatchStaging { Token = "t1", Count = 2, Requests = Requests(2) });
        var created = await client.CreateAsync(staged, "t1");
        emu.Server.Faults = new FaultScenario { Http = [new HttpFaultRule { Method = "GET", Path = "/v1/batches/*", Status = status, First = 2, RetryAfterMs = 10 }] };
        var before = emu.Server.Counters["GET /v1/batches/{id}"];

        var got = await client.GetAsync(created.Id);

        Assert.Equal(created.Id, got.Id);
        Assert.Equal(3, emu.Server.Counters["GET /v1/batches/{id}"] - before);
    }

    [Fact]
    public async Task Create_IsNotRetriedOnA500_TheFailureSurfacesForReconciliation()
    {
        await using var emu = await EmulatorHost.StartAsync();
        using var client = Client(emu);
        var staged = await client.StageAsync(new BatchStaging { Token = "t2", Count = 1, Requests = Requests(1) });
        emu.Server.Faults = new FaultScenario { Http = [new HttpFaultRule { Method = "POST", Path = "/v1/batches", Status = 500, First = 1 }] };

        var ex = await Assert.ThrowsAsync<ProviderException>(() => client.CreateAsync(staged, "t2"));

        Assert.Equal(500, ex.StatusCode);
        Assert.Equal(1, emu.Server.Counters["POST /v1/batches"]);
        Assert.Empty(emu.Server.ListBatches());
    }

    [Fact]
    public async Task Anthropic529_IsRetried()
    {
        await using var emu = await EmulatorHost.StartAsync();
        using var client = Client(emu, ProviderNames.Anthropic);
        emu.Server.Faults = new FaultScenario { Http = [new HttpFaultRule { Method = "GET", Path = "/v1/messages/batches", Status = 529, First = 1 }] };

        var list = new List<ProviderBatch>();
        await foreach (var b in client.ListRecentAsync(DateTimeOffset.UnixEpoch))
        {
            list.Add(b);
        }

        Assert.Empty(list);
        Assert.Equal(2, emu.Server.Counters["GET /v1/messages/batches"]);
    }
}
