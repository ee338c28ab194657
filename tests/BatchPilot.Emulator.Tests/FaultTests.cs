using System.Net;
using System.Text.Json;

namespace BatchPilot.Emulator.Tests;

public sealed class FaultTests
{
    private static async Task<JsonElement> RunOpenAIBatchAsync(HttpClient http, string jsonl)
    {
        var batch = await TestKit.CreateOpenAIBatchAsync(http, await TestKit.UploadAsync(http, jsonl));
        return (await TestKit.GetJsonAsync(http, $"v1/batches/{batch.GetProperty("id").GetString()}")).Json;
    }

    [Fact]
    public async Task ItemErrors_ByRate_AreDeterministicAndGoToTheErrorFile()
    {
        var faults = FaultScenario.ParseFlags(["seed=7", "items:error=server_error:rate=0.3"]);
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = faults; });
        using var http = TestKit.OpenAIHttp(server);

        var first = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(200));
        var second = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(200));

        var failed = first.GetProperty("request_counts").GetProperty("failed").GetInt32();
        Assert.InRange(failed, 35, 85);
        Assert.Equal(200 - failed, first.GetProperty("request_counts").GetProperty("completed").GetInt32());
        var errors1 = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{first.GetProperty("error_file_id").GetString()}/content"));
        var errors2 = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{second.GetProperty("error_file_id").GetString()}/content"));
        Assert.Equal(errors1.Select(e => e.GetProperty("custom_id").GetString()), errors2.Select(e => e.GetProperty("custom_id").GetString()));
        var line = errors1[0];
        Assert.Equal(JsonValueKind.Null, line.GetProperty("error").ValueKind);
        Assert.Equal(500, line.GetProperty("response").GetProperty("status_code").GetInt32());
        Assert.Equal("server_error", line.GetProperty("response").GetProperty("body").GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task ItemErrors_FirstAttemptOnly_SucceedOnResubmission()
    {
        await using var server = await TestKit.StartAsync(o =>
        {
            o.BatchDuration = TimeSpan.Zero;
            o.Faults = FaultScenario.ParseFlags(["items:error=context_length_exceeded:ids=req-2,req-4:firstAttemptOnly"]);
        });
        using var http = TestKit.OpenAIHttp(server);

        var first = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(5));
        var resume = await RunOpenAIBatchAsync(http, TestKit.ChatLine("req-2", "again") + "\n" + TestKit.ChatLine("req-4", "again") + "\n");

        Assert.Equal(2, first.GetProperty("request_counts").GetProperty("failed").GetInt32());
        var errors = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{first.GetProperty("error_file_id").GetString()}/content"));
        Assert.Equal(["req-2", "req-4"], errors.Select(e => e.GetProperty("custom_id").GetString()));
        Assert.Equal("context_length_exceeded", errors[0].GetProperty("response").GetProperty("body").GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(400, errors[0].GetProperty("response").GetProperty("status_code").GetInt32());
        Assert.Equal(2, resume.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(JsonValueKind.Null, resume.GetProperty("error_file_id").ValueKind);
    }

    [Fact]
    public async Task ItemErrors_RequestTimeout_UsesTopLevelError_AndAllFailedMeansNoOutputFile()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["items:error=request_timeout"]); });
        using var http = TestKit.OpenAIHttp(server);

        var batch = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(3));

        Assert.Equal("completed", batch.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, batch.GetProperty("output_file_id").ValueKind);
        var errors = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{batch.GetProperty("error_file_id").GetString()}/content"));
        Assert.Equal(3, errors.Count);
        Assert.Equal(JsonValueKind.Null, errors[0].GetProperty("response").ValueKind);
        Assert.Equal("request_timeout", errors[0].GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ItemErrors_Anthropic_GiveErroredResultsWithMatchingType()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["items:error=overloaded_error:ids=b"]); });
        using var http = TestKit.AnthropicHttp(server);
        var created = await AnthropicBatchTests.CreateAsync(http, ["a", "b"]);
        var id = created.GetProperty("id").GetString()!;

        var ended = (await TestKit.GetJsonAsync(http, $"v1/messages/batches/{id}")).Json;
        var results = TestKit.ParseJsonl(await http.GetStringAsync($"v1/messages/batches/{id}/results"));

        Assert.Equal(1, ended.GetProperty("request_counts").GetProperty("errored").GetInt32());
        var b = results.Single(r => r.GetProperty("custom_id").GetString() == "b").GetProperty("result");
        Assert.Equal("errored", b.GetProperty("type").GetString());
        Assert.Equal("error", b.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("overloaded_error", b.GetProperty("error").GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task HttpFault_OnTheNthCall_Returns429WithRetryHeaders()
    {
        await using var server = await TestKit.StartAsync(o => o.Faults = FaultScenario.ParseFlags(["http:POST /v1/batches:status=429:nth=2:retryAfterMs=1500"]));
        using var http = TestKit.OpenAIHttp(server);
        var fileId = await TestKit.UploadAsync(http, TestKit.ChatJsonl(1));
        var body = new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" };

        var first = await TestKit.PostJsonAsync(http, "v1/batches", body);
        using var second = await http.PostAsync("v1/batches", new StringContent(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json"));
        var third = await TestKit.PostJsonAsync(http, "v1/batches", body);

        Assert.Equal(200, first.Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal("2", second.Headers.GetValues("retry-after").Single());
        Assert.Equal("1500", second.Headers.GetValues("retry-after-ms").Single());
        Assert.False(second.Headers.Contains("x-ratelimit-limit-requests"), "no limit is configured, so none is reported");
        Assert.Equal("rate_limit_exceeded", (await TestKit.ReadJsonAsync(second)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(200, third.Status);
        Assert.Equal(3, server.Counters["POST /v1/batches"]);
        Assert.Equal(2, server.ListBatches().Count);
    }

    [Fact]
    public async Task HttpFault_Anthropic529_AndSwappingFaultsAtRuntime()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.AnthropicHttp(server);
        server.Faults = FaultScenario.ParseFlags(["http:* /v1/messages/**:status=529"]);

        var overloaded = await TestKit.PostJsonAsync(http, "v1/messages", new { model = "claude-haiku-4-5", max_tokens = 5, messages = new[] { new { role = "user", content = "hi" } } });
        server.Faults = FaultScenario.None;
        var ok = await TestKit.PostJsonAsync(http, "v1/messages", new { model = "claude-haiku-4-5", max_tokens = 5, messages = new[] { new { role = "user", content = "hi" } } });

        Assert.Equal(529, overloaded.Status);
        Assert.Equal("overloaded_error", overloaded.Json.GetProperty("error").GetProperty("type").GetString());
        Assert.StartsWith("req_", overloaded.Json.GetProperty("request_id").GetString());
        Assert.Equal(200, ok.Status);
    }

    [Fact]
    public async Task HttpFault_Reset_AbortsTheConnection()
    {
        await using var server = await TestKit.StartAsync(o => o.Faults = FaultScenario.ParseFlags(["http:GET /v1/models:status=reset:first=1"]));
        using var http = TestKit.OpenAIHttp(server);

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("v1/models"));
        using var ok = await http.GetAsync("v1/models");

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task BatchFault_ValidationFailure_ReportsTokenLimitExceeded()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["batch:validation_failure:nth=1"]); });
        using var http = TestKit.OpenAIHttp(server);

        var failed = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(2));
        var next = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(2));

        Assert.Equal("failed", failed.GetProperty("status").GetString());
        var error = Assert.Single(failed.GetProperty("errors").GetProperty("data").EnumerateArray());
        Assert.Equal("token_limit_exceeded", error.GetProperty("code").GetString());
        Assert.StartsWith("Enqueued token limit reached for gpt-4o-mini", error.GetProperty("message").GetString());
        Assert.Equal("completed", next.GetProperty("status").GetString());
    }

    [Fact]
    public async Task BatchFault_Expire_KeepsPartialResultsAndExpiresTheRest()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["batch:expire:fraction=0.5"]); });
        using var http = TestKit.OpenAIHttp(server);

        var expired = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(4));

        Assert.Equal("expired", expired.GetProperty("status").GetString());
        Assert.NotEqual(JsonValueKind.Null, expired.GetProperty("expired_at").ValueKind);
        Assert.Equal(2, expired.GetProperty("request_counts").GetProperty("completed").GetInt32());
        var errors = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{expired.GetProperty("error_file_id").GetString()}/content"));
        Assert.Equal(["req-3", "req-4"], errors.Select(e => e.GetProperty("custom_id").GetString()));
        Assert.Equal("This request could not be executed before the completion window expired.", errors[0].GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task BatchFault_NoOutputFile_CompletesWithoutFiles()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["batch:no_output_file"]); });
        using var http = TestKit.OpenAIHttp(server);

        var batch = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(2));

        Assert.Equal("completed", batch.GetProperty("status").GetString());
        Assert.Equal(2, batch.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(JsonValueKind.Null, batch.GetProperty("output_file_id").ValueKind);
        Assert.Equal(JsonValueKind.Null, batch.GetProperty("error_file_id").ValueKind);
    }

    [Fact]
    public async Task BatchFault_StuckFinalizing_NeverCompletes()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["batch:stuck_finalizing"]); });
        using var http = TestKit.OpenAIHttp(server);

        var batch = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(2));

        Assert.Equal("finalizing", batch.GetProperty("status").GetString());
    }

    [Fact]
    public async Task BatchFault_MalformedDuplicateUnknownLines_CorruptTheOutputFile()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["batch:malformed_lines:fraction=0.2", "batch:duplicate_lines:fraction=0.2", "batch:unknown_lines:fraction=0.2", "batch:missing_lines:fraction=0.2"]); });
        using var http = TestKit.OpenAIHttp(server);

        var batch = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(100));
        var lines = (await http.GetStringAsync($"v1/files/{batch.GetProperty("output_file_id").GetString()}/content")).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        var parsed = lines.Select(l => { try { return JsonDocument.Parse(l).RootElement.GetProperty("custom_id").GetString(); } catch (JsonException) { return null; } }).ToList();
        Assert.Contains(null, parsed);
        Assert.Contains(parsed, id => id is not null && id.StartsWith("unknown-", StringComparison.Ordinal));
        Assert.Contains(parsed.Where(id => id is not null).GroupBy(id => id), g => g.Count() > 1);
        Assert.True(parsed.Count(id => id is not null && id.StartsWith("req-", StringComparison.Ordinal)) < 100);
        Assert.Equal(100, batch.GetProperty("request_counts").GetProperty("completed").GetInt32());
    }

    [Fact]
    public async Task BatchFault_TruncatedDownload_ResetsMidBody()
    {
        await using var server = await TestKit.StartAsync(o => { o.BatchDuration = TimeSpan.Zero; o.Faults = FaultScenario.ParseFlags(["batch:truncated_download:fraction=0.5"]); });
        using var http = TestKit.OpenAIHttp(server);
        var batch = await RunOpenAIBatchAsync(http, TestKit.ChatJsonl(50));

        await Assert.ThrowsAnyAsync<Exception>(() => http.GetStringAsync($"v1/files/{batch.GetProperty("output_file_id").GetString()}/content"));
    }
}
