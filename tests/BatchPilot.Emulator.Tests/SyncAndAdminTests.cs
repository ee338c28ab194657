using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Emulator.Tests;

public sealed class SyncAndAdminTests
{
    private static readonly object Chat = new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "Hi there" } } };

    [Fact]
    public async Task RateLimit_PerSecondWindow_Returns429ThenRecovers()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, 400, TimeSpan.Zero));
        await using var server = await TestKit.StartAsync(o => { o.TimeProvider = clock; o.RequestsPerMinute = 120; });
        using var http = TestKit.OpenAIHttp(server);

        using var r1 = await http.PostAsync("v1/chat/completions", JsonContent(Chat));
        using var r2 = await http.PostAsync("v1/chat/completions", JsonContent(Chat));
        using var r3 = await http.PostAsync("v1/chat/completions", JsonContent(Chat));
        clock.Advance(TimeSpan.FromMilliseconds(600));
        using var r4 = await http.PostAsync("v1/chat/completions", JsonContent(Chat));

        Assert.Equal(HttpStatusCode.OK, r1.StatusCode);
        Assert.Equal("120", r1.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("1", r1.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal("600ms", r1.Headers.GetValues("x-ratelimit-reset-requests").Single());
        Assert.Equal(HttpStatusCode.OK, r2.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, r3.StatusCode);
        Assert.Equal("1", r3.Headers.GetValues("retry-after").Single());
        Assert.Equal("600", r3.Headers.GetValues("retry-after-ms").Single());
        var error = (await TestKit.ReadJsonAsync(r3)).GetProperty("error");
        Assert.Equal("requests", error.GetProperty("type").GetString());
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("Please try again in 600ms.", error.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, r4.StatusCode);
    }

    [Fact]
    public async Task RateLimit_Anthropic_TokensPerMinute_UsesRfc3339Resets()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await TestKit.StartAsync(o => { o.TimeProvider = clock; o.TokensPerMinute = 600; });
        using var http = TestKit.AnthropicHttp(server);
        var body = new { model = "claude-haiku-4-5", max_tokens = 10, messages = new[] { new { role = "user", content = new string('x', 40) } } };

        using var ok = await http.PostAsync("v1/messages", JsonContent(body));
        using var limited = await http.PostAsync("v1/messages", JsonContent(body));

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("600", ok.Headers.GetValues("anthropic-ratelimit-input-tokens-limit").Single());
        Assert.Equal("2026-03-01T12:00:01Z", ok.Headers.GetValues("anthropic-ratelimit-tokens-reset").Single());
        Assert.False(ok.Headers.Contains("anthropic-ratelimit-requests-remaining"), "no request limit is configured, so none is reported");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("rate_limit_error", (await TestKit.ReadJsonAsync(limited)).GetProperty("error").GetProperty("type").GetString());
        Assert.True(limited.Headers.Contains("retry-after"));
    }

    [Fact]
    public async Task Latency_DelaysSyncResponses()
    {
        await using var server = await TestKit.StartAsync(o => o.LatencyMs = 300);
        using var http = TestKit.OpenAIHttp(server);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        using var response = await http.PostAsync("v1/chat/completions", JsonContent(Chat));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(watch.ElapsedMilliseconds >= 280, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task RequiredApiKey_RejectsOtherKeysWithProviderBodies_WithoutEchoingTheKey()
    {
        await using var server = await TestKit.StartAsync(o => o.RequiredApiKey = "sk-right-key-123456");
        using var wrongOpenAI = TestKit.OpenAIHttp(server, "sk-wrong-key-abcdefgh");
        using var wrongAnthropic = TestKit.AnthropicHttp(server, "sk-ant-wrong");
        using var right = TestKit.OpenAIHttp(server, "sk-right-key-123456");

        var openai = await TestKit.GetJsonAsync(wrongOpenAI, "v1/models");
        var anthropic = await TestKit.GetJsonAsync(wrongAnthropic, "v1/messages/batches");
        var ok = await TestKit.GetJsonAsync(right, "v1/models");

        Assert.Equal(401, openai.Status);
        Assert.Equal("invalid_api_key", openai.Json.GetProperty("error").GetProperty("code").GetString());
        Assert.DoesNotContain("sk-wrong-key-abcdefgh", openai.Json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(401, anthropic.Status);
        Assert.Equal("authentication_error", anthropic.Json.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(200, ok.Status);
    }

    [Fact]
    public async Task AdminEndpoints_ListBatchesAndHealth()
    {
        await using var server = await TestKit.StartAsync();
        using var openai = TestKit.OpenAIHttp(server);
        using var anthropic = TestKit.AnthropicHttp(server);
        await TestKit.CreateOpenAIBatchAsync(openai, await TestKit.UploadAsync(openai, TestKit.ChatJsonl(2)), new { job = "42" });
        await AnthropicBatchTests.CreateAsync(anthropic, ["z"]);

        var batches = (await TestKit.GetJsonAsync(openai, "_emulator/batches")).Json;
        var health = (await TestKit.GetJsonAsync(openai, "_emulator/health")).Json;

        Assert.Equal(["openai", "anthropic"], batches.EnumerateArray().Select(b => b.GetProperty("provider").GetString()));
        Assert.Equal("42", batches[0].GetProperty("metadata").GetProperty("job").GetString());
        Assert.Equal(["req-1", "req-2"], batches[0].GetProperty("custom_ids").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal(1, batches[1].GetProperty("request_count").GetInt32());
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(2, health.GetProperty("batches").GetInt32());
    }

    [Fact]
    public async Task Start_RefusesNonLoopbackAddresses()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => EmulatorServer.StartAsync(new EmulatorOptions { Urls = "http://0.0.0.0:0" }));

        Assert.Contains("loopback", error.Message);
    }

    [Fact]
    public async Task UnknownPath_Returns404InProviderEnvelope()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);

        var (status, json) = await TestKit.GetJsonAsync(http, "v1/nothing");

        Assert.Equal(404, status);
        Assert.Equal("invalid_request_error", json.GetProperty("error").GetProperty("type").GetString());
    }

    private static StringContent JsonContent(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
}
