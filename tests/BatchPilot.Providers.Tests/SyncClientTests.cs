using System.Text;
using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Providers.Http;
using BatchPilot.Providers.OpenAI;
using BatchPilot.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Providers.Tests;

/// <summary>
/// The sync clients against the emulator, one HTTP attempt each: every provider's wire shape, and the retry verdict
/// of each failure (transient, spend cap, permanent, connection failure).
/// </summary>
public sealed class SyncClientTests
{
    private static readonly LlmRequest Hello = new() { Model = "gpt-4o-mini", System = "Be brief.", UserText = "Hello there", MaxTokens = 50 };

    private static ISyncClient Client(string provider, string baseUrl, string? api = null, string key = "sk-test-0000000000000000000000", string? apiVersion = null) => SyncClients.Create(new BatchClientOptions
    {
        Provider = provider,
        BaseUrl = new Uri(baseUrl),
        ApiKey = key,
        SpoolDirectory = Path.GetTempPath(),
        Api = api,
        ApiVersion = apiVersion,
    });

    private static string Write(Action<Utf8JsonWriter> write) => JsonText.Write(write);

    [Fact]
    public void ResponsesBody_PutsTheSystemPromptInInstructions_AndTheTurnsInInput()
    {
        var request = Hello with { PriorTurns = [new ChatTurn(ChatTurn.User, "2+2?"), new ChatTurn(ChatTurn.Assistant, "4")], Temperature = 0.2 };

        var body = Write(w => ResponsesBody.Write(w, request));

        Assert.Equal(
            """{"model":"gpt-4o-mini","instructions":"Be brief.","input":[{"role":"user","content":"2\u002B2?"},{"role":"assistant","content":"4"},{"role":"user","content":"Hello there"}],"max_output_tokens":50,"temperature":0.2,"store":false}""",
            body);
    }

    [Fact]
    public void ResponsesBatchLine_UsesTheResponsesUrl()
    {
        var line = Write(w => OpenAIBatchClient.WriteLine(w, new IdentifiedRequest("row-1", Hello with { System = null, MaxTokens = null }), ResponsesBody.Endpoint));

        Assert.Equal("""{"custom_id":"row-1","method":"POST","url":"/v1/responses","body":{"model":"gpt-4o-mini","input":"Hello there","store":false}}""", line);
    }

    [Theory]
    [InlineData(ProviderNames.OpenAI, null)]
    [InlineData(ProviderNames.OpenAI, OpenAIApis.Responses)]
    [InlineData(ProviderNames.OpenRouter, null)]
    [InlineData(ProviderNames.Azure, null)]
    [InlineData(ProviderNames.Anthropic, null)]
    public async Task Send_ToEachProvidersEndpoint_GetsTheAnswerUsageAndLimits(string provider, string? api)
    {
        // Given the emulator, limiting requests so that it reports its limits
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { RequestsPerMinute = 6000 });
        var root = emu.BaseAddress.ToString().TrimEnd('/');
        var (baseUrl, route) = provider switch
        {
            ProviderNames.OpenRouter => (root + "/api/v1", "POST /api/v1/chat/completions"),
            ProviderNames.Azure => (root, "POST /openai/deployments/{deployment}/chat/completions"),
            ProviderNames.Anthropic => (root, "POST /v1/messages"),
            _ => (root + "/v1", api is null ? "POST /v1/chat/completions" : "POST /v1/responses"),
        };
        using var client = Client(provider, baseUrl, api);
        var model = provider switch { ProviderNames.Anthropic => "claude-haiku-4-5", ProviderNames.OpenRouter => "openai/gpt-4o-mini", ProviderNames.Azure => "my-deployment", _ => "gpt-4o-mini" };

        // When one request is sent
        var response = await client.SendAsync(new IdentifiedRequest("row-1", Hello with { Model = model }));

        // Then it reached the provider's own endpoint once and came back as a succeeded result
        Assert.Equal(ResultKind.Succeeded, response.Result.Kind);
        Assert.Equal("Emulated answer to: Hello there", response.Result.Text);
        Assert.True(response.Result.Usage?.InputTokens > 0);
        Assert.Equal(6000, response.Limits?.RequestsLimit);
        Assert.False(response.Retryable);
        Assert.Equal(1, emu.Counters[route]);
    }

    [Fact]
    public async Task Send_ToAzure_WithAKeyTheResourceRefuses_ThrowsTheAuthError()
    {
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { RequiredApiKey = "right0000000000000000000000000000" });
        using var client = Client(ProviderNames.Azure, emu.BaseAddress.ToString(), key: "wrong0000000000000000000000000000", apiVersion: "2025-01-01-preview");

        var error = await Assert.ThrowsAsync<ProviderException>(() => client.SendAsync(new IdentifiedRequest("row-1", Hello with { Model = "dep" })));

        Assert.True(error.IsAuthError);
        Assert.Equal(401, error.StatusCode);
    }

    [Fact]
    public async Task CountTokens_ReturnsTheInputTokensOfTheRequest()
    {
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions());
        using var client = Client(ProviderNames.Anthropic, emu.BaseAddress.ToString(), SyncClients.AnthropicCountTokens);

        var response = await client.SendAsync(new IdentifiedRequest("row-1", Hello with { Model = "claude-haiku-4-5" }));

        Assert.Equal(ResultKind.Succeeded, response.Result.Kind);
        Assert.Equal(((9 + 11 + 3) / 4) + (3 * 2) + 3, response.Result.Usage?.InputTokens);
        Assert.Equal(1, emu.Counters["POST /v1/messages/count_tokens"]);
    }

    [Theory]
    [InlineData(ProviderNames.OpenAI, "status=429:retryAfterMs=250", true, 250)]
    [InlineData(ProviderNames.OpenAI, "status=500", true, null)]
    [InlineData(ProviderNames.Anthropic, "status=529:retryAfterMs=100", true, 100)]
    [InlineData(ProviderNames.OpenAI, "status=429:code=insufficient_quota", false, null)]
    [InlineData(ProviderNames.Anthropic, "status=429:code=spend_limit", false, null)]
    [InlineData(ProviderNames.OpenAI, "status=400", false, null)]
    [InlineData(ProviderNames.OpenAI, "status=reset", true, null)]
    public async Task Send_AFailure_IsOneAttempt_WithTheRetryVerdict(string provider, string fault, bool retryable, int? hintMs)
    {
        // Given every call faulted
        var path = provider == ProviderNames.Anthropic ? "/v1/messages" : "/v1/chat/completions";
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { Faults = FaultScenario.ParseFlags([$"http:POST {path}:{fault}"]) });
        var baseUrl = provider == ProviderNames.Anthropic ? emu.BaseAddress.ToString() : new Uri(emu.BaseAddress, "v1").ToString();
        using var client = Client(provider, baseUrl);

        // When one request is sent
        var response = await client.SendAsync(new IdentifiedRequest("row-1", Hello with { Model = provider == ProviderNames.Anthropic ? "claude-haiku-4-5" : "gpt-4o-mini" }));

        // Then the client made exactly one attempt and says whether another may follow, and when
        Assert.Equal(ResultKind.Failed, response.Result.Kind);
        Assert.Equal(1, emu.Counters["POST " + path]);
        Assert.Equal(retryable, response.Retryable);
        Assert.Equal(hintMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, response.RetryAfter);
        if (fault == "status=reset")
        {
            Assert.Equal("connection_error", response.Result.ErrorCode);
        }
    }

    [Fact]
    public void OpenAIHeaders_ParseGoDurations()
    {
        using var response = new HttpResponseMessage();
        response.Headers.Add("x-ratelimit-limit-requests", "10000");
        response.Headers.Add("x-ratelimit-remaining-requests", "9999");
        response.Headers.Add("x-ratelimit-reset-requests", "6m0s");
        response.Headers.Add("x-ratelimit-limit-tokens", "300000");
        response.Headers.Add("x-ratelimit-remaining-tokens", "0");
        response.Headers.Add("x-ratelimit-reset-tokens", "2s81ms");

        var info = RateLimitHeaders.OpenAI(response.Headers, TimeProvider.System);

        Assert.Equal(10_000, info.RequestsLimit);
        Assert.Equal(TimeSpan.FromMinutes(6), info.RequestsReset);
        Assert.Equal(300_000, info.TokensLimit);
        Assert.Equal(TimeSpan.FromMilliseconds(2081), info.TokensReset);
        Assert.Equal(TimeSpan.FromMilliseconds(2081), info.ExhaustedReset());
    }

    [Fact]
    public void AnthropicHeaders_ReadInputAndOutputLimitsApart_WithRfc3339Resets()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        using var response = new HttpResponseMessage();
        response.Headers.Add("anthropic-ratelimit-requests-limit", "50");
        response.Headers.Add("anthropic-ratelimit-requests-reset", "2026-03-01T12:00:01Z");
        response.Headers.Add("anthropic-ratelimit-input-tokens-limit", "30000");
        response.Headers.Add("anthropic-ratelimit-input-tokens-remaining", "27000");
        response.Headers.Add("anthropic-ratelimit-input-tokens-reset", "2026-03-01T12:00:06Z");
        response.Headers.Add("anthropic-ratelimit-output-tokens-limit", "8000");
        response.Headers.Add("anthropic-ratelimit-output-tokens-remaining", "0");
        response.Headers.Add("anthropic-ratelimit-output-tokens-reset", "2026-03-01T12:00:30Z");
        response.Headers.Add("anthropic-ratelimit-tokens-limit", "8000");

        var info = RateLimitHeaders.Anthropic(response.Headers, clock);

        Assert.Equal(50, info.RequestsLimit);
        Assert.Equal(TimeSpan.FromSeconds(1), info.RequestsReset);
        Assert.Equal(30_000, info.InputTokensLimit);
        Assert.Equal(TimeSpan.FromSeconds(6), info.InputTokensReset);
        Assert.Equal(8_000, info.OutputTokensLimit);
        Assert.Equal(TimeSpan.FromSeconds(30), info.ExhaustedReset());
    }
}
