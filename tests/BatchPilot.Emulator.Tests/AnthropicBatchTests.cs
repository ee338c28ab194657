using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Emulator.Tests;

public sealed class AnthropicBatchTests
{
    internal static async Task<JsonElement> CreateAsync(HttpClient http, IEnumerable<string> customIds)
    {
        var (status, json) = await TestKit.PostJsonAsync(http, "v1/messages/batches", Body(customIds));
        Assert.True(status == 200, json.ToString());
        return json;
    }

    internal static object Body(IEnumerable<string> customIds) => new
    {
        requests = customIds.Select(id => new { custom_id = id, @params = new { model = "claude-haiku-4-5", max_tokens = 100, messages = new[] { new { role = "user", content = "Say " + id } } } }).ToArray(),
    };

    [Fact]
    public async Task Batch_IsInProgressThenEnded_WithRfc3339MicrosecondTimestamps()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await TestKit.StartAsync(o => { o.TimeProvider = clock; o.BatchDuration = TimeSpan.FromSeconds(30); });
        using var http = TestKit.AnthropicHttp(server);

        var created = await CreateAsync(http, ["a", "b", "c"]);
        var id = created.GetProperty("id").GetString()!;
        clock.Advance(TimeSpan.FromSeconds(29));
        var during = (await TestKit.GetJsonAsync(http, $"v1/messages/batches/{id}")).Json;
        clock.Advance(TimeSpan.FromSeconds(1));
        var ended = (await TestKit.GetJsonAsync(http, $"v1/messages/batches/{id}")).Json;

        Assert.Equal("message_batch", created.GetProperty("type").GetString());
        Assert.Equal("2026-03-01T12:00:00.000000Z", created.GetProperty("created_at").GetString());
        Assert.Equal("2026-03-02T12:00:00.000000Z", created.GetProperty("expires_at").GetString());
        Assert.Equal("in_progress", during.GetProperty("processing_status").GetString());
        Assert.Equal(3, during.GetProperty("request_counts").GetProperty("processing").GetInt32());
        Assert.Equal(JsonValueKind.Null, during.GetProperty("results_url").ValueKind);
        Assert.Equal("ended", ended.GetProperty("processing_status").GetString());
        Assert.Equal("2026-03-01T12:00:30.000000Z", ended.GetProperty("ended_at").GetString());
        Assert.Equal(3, ended.GetProperty("request_counts").GetProperty("succeeded").GetInt32());
        Assert.Equal(0, ended.GetProperty("request_counts").GetProperty("processing").GetInt32());
        Assert.Equal($"{server.BaseAddress}v1/messages/batches/{id}/results", ended.GetProperty("results_url").GetString());
    }

    [Fact]
    public async Task Results_AreJsonlWithSucceededMessages()
    {
        await using var server = await TestKit.StartAsync(o => o.BatchDuration = TimeSpan.Zero);
        using var http = TestKit.AnthropicHttp(server);
        var id = (await CreateAsync(http, ["one"])).GetProperty("id").GetString()!;
        await TestKit.GetJsonAsync(http, $"v1/messages/batches/{id}");

        using var response = await http.GetAsync($"v1/messages/batches/{id}/results");
        var line = Assert.Single(TestKit.ParseJsonl(await response.Content.ReadAsStringAsync()));

        Assert.Equal("application/x-jsonl", response.Content.Headers.ContentType!.MediaType);
        var message = line.GetProperty("result").GetProperty("message");
        Assert.Equal("succeeded", line.GetProperty("result").GetProperty("type").GetString());
        Assert.Equal("Emulated answer to: Say one", message.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("end_turn", message.GetProperty("stop_reason").GetString());
        Assert.Equal("batch", message.GetProperty("usage").GetProperty("service_tier").GetString());
        Assert.Equal("claude-haiku-4-5", message.GetProperty("model").GetString());
    }

    [Theory]
    [InlineData("has space", "requests.1.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")]
    [InlineData("a", "requests.1.custom_id: Duplicate custom_id 'a'. The custom_id of each request in a batch must be unique.")]
    [InlineData("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "requests.1.custom_id: String should have at most 64 characters")]
    public async Task Create_RejectsBadCustomIds(string secondId, string message)
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.AnthropicHttp(server);

        var (status, json) = await TestKit.PostJsonAsync(http, "v1/messages/batches", Body(["a", secondId]));

        Assert.Equal(400, status);
        Assert.Equal("error", json.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", json.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(message, json.GetProperty("error").GetProperty("message").GetString());
        Assert.Empty(server.ListBatches());
    }

    [Fact]
    public async Task Create_RejectsMissingMaxTokens()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.AnthropicHttp(server);
        var body = new { requests = new[] { new { custom_id = "a", @params = new { model = "m", messages = Array.Empty<object>() } } } };

        var (status, json) = await TestKit.PostJsonAsync(http, "v1/messages/batches", body);

        Assert.Equal(400, status);
        Assert.Equal("requests.0.params.max_tokens: Field required", json.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Create_StreamsALargePrettyPrintedBody()
    {
        await using var server = await TestKit.StartAsync(o => o.BatchDuration = TimeSpan.Zero);
        using var http = TestKit.AnthropicHttp(server);
        var ids = Enumerable.Range(0, 5000).Select(i => $"r{i}").ToList();
        var json = JsonSerializer.Serialize(Body(ids), new JsonSerializerOptions { WriteIndented = true });
        json = json.Replace("{\n", "{ \"extra\": {\"nested\": [1,2,3]},\n", StringComparison.Ordinal); // unknown fields are skipped

        using var response = await http.PostAsync("v1/messages/batches", new StringContent(json, Encoding.UTF8, "application/json"));
        var created = await TestKit.ReadJsonAsync(response);

        Assert.Equal(5000, created.GetProperty("request_counts").GetProperty("processing").GetInt32());
        Assert.Equal(ids, server.ListBatches().Single().CustomIds);
    }

    [Fact]
    public async Task Cancel_EndsWithCanceledResults_AndDeleteRequiresEnded()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await TestKit.StartAsync(o => { o.TimeProvider = clock; o.BatchDuration = TimeSpan.FromSeconds(100); });
        using var http = TestKit.AnthropicHttp(server);
        var id = (await CreateAsync(http, ["a", "b", "c", "d"])).GetProperty("id").GetString()!;
        clock.Advance(TimeSpan.FromSeconds(50));

        var canceling = (await TestKit.PostJsonAsync(http, $"v1/messages/batches/{id}/cancel", new { })).Json;
        using var refused = await http.DeleteAsync($"v1/messages/batches/{id}");
        clock.Advance(TimeSpan.FromSeconds(2));
        var ended = (await TestKit.GetJsonAsync(http, $"v1/messages/batches/{id}")).Json;
        var results = TestKit.ParseJsonl(await http.GetStringAsync($"v1/messages/batches/{id}/results"));
        using var deleted = await http.DeleteAsync($"v1/messages/batches/{id}");
        var gone = await TestKit.GetJsonAsync(http, $"v1/messages/batches/{id}");

        Assert.Equal("canceling", canceling.GetProperty("processing_status").GetString());
        Assert.Equal("2026-03-01T12:00:50.000000Z", canceling.GetProperty("cancel_initiated_at").GetString());
        Assert.Equal(400, (int)refused.StatusCode);
        Assert.Equal("ended", ended.GetProperty("processing_status").GetString());
        Assert.Equal(2, ended.GetProperty("request_counts").GetProperty("succeeded").GetInt32());
        Assert.Equal(2, ended.GetProperty("request_counts").GetProperty("canceled").GetInt32());
        Assert.Equal(["succeeded", "succeeded", "canceled", "canceled"], results.Select(r => r.GetProperty("result").GetProperty("type").GetString()));
        Assert.Equal("message_batch_deleted", (await TestKit.ReadJsonAsync(deleted)).GetProperty("type").GetString());
        Assert.Equal(404, gone.Status);
        Assert.Equal("not_found_error", gone.Json.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task List_SupportsAfterAndBeforeIds()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.AnthropicHttp(server);
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add((await CreateAsync(http, ["x"])).GetProperty("id").GetString()!);
        }
        ids.Reverse();

        var first = (await TestKit.GetJsonAsync(http, "v1/messages/batches?limit=2")).Json;
        var next = (await TestKit.GetJsonAsync(http, $"v1/messages/batches?limit=2&after_id={first.GetProperty("last_id").GetString()}")).Json;
        var back = (await TestKit.GetJsonAsync(http, $"v1/messages/batches?limit=2&before_id={next.GetProperty("first_id").GetString()}")).Json;

        Assert.Equal(ids[..2], first.GetProperty("data").EnumerateArray().Select(b => b.GetProperty("id").GetString()));
        Assert.True(first.GetProperty("has_more").GetBoolean());
        Assert.Equal(ids[2..], next.GetProperty("data").EnumerateArray().Select(b => b.GetProperty("id").GetString()));
        Assert.False(next.GetProperty("has_more").GetBoolean());
        Assert.Equal(ids[..2], back.GetProperty("data").EnumerateArray().Select(b => b.GetProperty("id").GetString()));
        Assert.False(first.TryGetProperty("object", out _));
    }

    [Fact]
    public async Task Expire_Fault_GivesExpiredResults()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["batch:expire:fraction=0.5:provider=anthropic"]); });
        using var http = TestKit.AnthropicHttp(server);
        var id = (await CreateAsync(http, ["a", "b"])).GetProperty("id").GetString()!;

        var ended = (await TestKit.GetJsonAsync(http, $"v1/messages/batches/{id}")).Json;

        Assert.Equal(1, ended.GetProperty("request_counts").GetProperty("expired").GetInt32());
        Assert.Equal(1, ended.GetProperty("request_counts").GetProperty("succeeded").GetInt32());
    }
}
