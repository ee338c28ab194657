using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Emulator.Tests;

/// <summary>
/// The sync endpoints as OpenRouter and Azure OpenAI shape them, token accounting as the providers count it (input
/// plus requested output for OpenAI, input and output apart for Anthropic), and the spend-cap 429.
/// </summary>
public sealed class SyncProviderShapesTests
{
    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    [Fact]
    public async Task Azure_DeploymentPath_AnswersWithTheDeploymentAsModel_AndNeedsApiVersionAndApiKey()
    {
        // Given the emulator and Azure-style requests (the model is the deployment in the path, the body has none)
        await using var server = await TestKit.StartAsync();
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var body = new { messages = new[] { new { role = "user", content = "Hello Azure" } } };
        const string Path = "openai/deployments/my-gpt4o/chat/completions";

        // When one is sent with the api-key header, one without api-version, and one without a key
        using var ok = new HttpRequestMessage(HttpMethod.Post, Path + "?api-version=2024-10-21") { Content = Json(body) };
        ok.Headers.Add("api-key", "0123456789abcdef0123456789abcdef");
        using var okResponse = await http.SendAsync(ok);
        using var noVersion = new HttpRequestMessage(HttpMethod.Post, Path) { Content = Json(body) };
        noVersion.Headers.Add("api-key", "0123456789abcdef0123456789abcdef");
        using var noVersionResponse = await http.SendAsync(noVersion);
        using var noKeyResponse = await http.PostAsync(Path + "?api-version=2024-10-21", Json(body));

        // Then only the first is answered, the others get Azure's error bodies
        Assert.Equal(HttpStatusCode.OK, okResponse.StatusCode);
        var answer = await TestKit.ReadJsonAsync(okResponse);
        Assert.Equal("my-gpt4o", answer.GetProperty("model").GetString());
        Assert.Equal("Emulated answer to: Hello Azure", answer.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(HttpStatusCode.NotFound, noVersionResponse.StatusCode);
        Assert.Equal("Resource not found", (await TestKit.ReadJsonAsync(noVersionResponse)).GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, noKeyResponse.StatusCode);
        Assert.StartsWith("Access denied due to missing subscription key", (await TestKit.ReadJsonAsync(noKeyResponse)).GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(3, server.Counters["POST /openai/deployments/{deployment}/chat/completions"]);
    }

    [Fact]
    public async Task Azure_WithARequiredKey_RefusesAnotherKey()
    {
        await using var server = await TestKit.StartAsync(o => o.RequiredApiKey = "right-key-0000000000000000000000");
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "openai/models?api-version=2024-10-21");
        request.Headers.Add("api-key", "wrong-key-0000000000000000000000");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Access denied due to invalid subscription key", (await TestKit.ReadJsonAsync(response)).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task OpenRouter_ServesChatAndTheKeyDescriptionUnderApiV1()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server, "sk-or-v1-0123456789abcdef0123456789abcdef");
        using var anonymous = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

        var (chatStatus, chat) = await TestKit.PostJsonAsync(http, "api/v1/chat/completions", new { model = "meta-llama/llama-3.1-8b-instruct:free", messages = new[] { new { role = "user", content = "Hi" } } });
        var (keyStatus, key) = await TestKit.GetJsonAsync(http, "api/v1/key");
        var (noKeyStatus, _) = await TestKit.GetJsonAsync(anonymous, "api/v1/key");

        Assert.Equal(200, chatStatus);
        Assert.Equal("meta-llama/llama-3.1-8b-instruct:free", chat.GetProperty("model").GetString());
        Assert.Equal(200, keyStatus);
        Assert.DoesNotContain("0123456789abcdef0123456789abcdef", key.GetProperty("data").GetProperty("label").GetString());
        Assert.Equal(401, noKeyStatus);
    }

    [Fact]
    public async Task OpenAITokensPerMinute_CountsTheRequestedMaximumOutput()
    {
        // Given 6,000 TPM (100 per one-second window) and requests asking for 60 output tokens each
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await TestKit.StartAsync(o => { o.TimeProvider = clock; o.TokensPerMinute = 6_000; });
        using var http = TestKit.OpenAIHttp(server);
        var body = new { model = "gpt-4o-mini", max_tokens = 60, messages = new[] { new { role = "user", content = "Hi" } } };

        // When two are sent in the same second
        using var first = await http.PostAsync("v1/chat/completions", Json(body));
        using var second = await http.PostAsync("v1/chat/completions", Json(body));

        // Then the second is refused: 2 × (input + 60) is over 100, though the answers themselves are short
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var remaining = long.Parse(first.Headers.GetValues("x-ratelimit-remaining-tokens").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(remaining, 1, 100 - 60 - 1);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal("tokens", (await TestKit.ReadJsonAsync(second)).GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task AnthropicOutputTokensPerMinute_IsLimitedApartFromInput_AndReportedInItsOwnHeaders()
    {
        // Given 600,000 input and 6,000 output tokens per minute (10,000 and 100 per second)
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = await TestKit.StartAsync(o => { o.TimeProvider = clock; o.TokensPerMinute = 600_000; o.OutputTokensPerMinute = 6_000; });
        using var http = TestKit.AnthropicHttp(server);
        var body = new { model = "claude-haiku-4-5", max_tokens = 80, messages = new[] { new { role = "user", content = "Hi" } } };

        // When two requests of 80 max tokens are sent in the same second
        using var first = await http.PostAsync("v1/messages", Json(body));
        using var second = await http.PostAsync("v1/messages", Json(body));

        // Then output tokens refuse the second; each limit has its own headers, tokens-* shows the tighter one
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("600000", first.Headers.GetValues("anthropic-ratelimit-input-tokens-limit").Single());
        Assert.Equal("6000", first.Headers.GetValues("anthropic-ratelimit-output-tokens-limit").Single());
        Assert.Equal("20", first.Headers.GetValues("anthropic-ratelimit-output-tokens-remaining").Single());
        Assert.Equal("6000", first.Headers.GetValues("anthropic-ratelimit-tokens-limit").Single());
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Contains("6,000 output tokens per minute", (await TestKit.ReadJsonAsync(second)).GetProperty("error").GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("openai", "v1/chat/completions", "insufficient_quota")]
    [InlineData("anthropic", "v1/messages", "enforced_spend_limit_reached")]
    public async Task QuotaFault_Is429WithoutARetryHint(string provider, string path, string code)
    {
        await using var server = await TestKit.StartAsync(o => o.Faults = FaultScenario.ParseFlags([$"http:POST /{path}:status=429:code=insufficient_quota"]));
        using var http = provider == "openai" ? TestKit.OpenAIHttp(server) : TestKit.AnthropicHttp(server);
        object body = provider == "openai"
            ? new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "Hi" } } }
            : new { model = "claude-haiku-4-5", max_tokens = 10, messages = new[] { new { role = "user", content = "Hi" } } };

        using var response = await http.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.False(response.Headers.Contains("retry-after"));
        Assert.False(response.Headers.Contains("retry-after-ms"));
        Assert.Contains(code, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
