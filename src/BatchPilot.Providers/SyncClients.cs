using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using BatchPilot.Providers.Anthropic;
using BatchPilot.Providers.Http;
using BatchPilot.Providers.OpenAI;

namespace BatchPilot.Providers;

/// <summary>
/// Creates synchronous clients: OpenAI chat completions or Responses API (and any OpenAI-compatible server by base URL),
/// Anthropic messages, OpenRouter (OpenAI-compatible, <c>vendor/model</c> ids), Azure OpenAI (deployment names,
/// <c>api-version</c>, <c>api-key</c> header).
/// </summary>
public static class SyncClients
{
    /// <summary>Default OpenRouter base URL.</summary>
    public static readonly Uri OpenRouterDefaultBaseUrl = new("https://openrouter.ai/api/v1");

    /// <summary>The <c>max_tokens</c> sent to Anthropic when the job sets none (the Messages API requires one).</summary>
    public const int AnthropicDefaultMaxTokens = AnthropicBatchClient.DefaultMaxTokens;

    /// <summary>The Azure OpenAI data-plane inference version used when none is configured (the latest GA one).</summary>
    public const string AzureDefaultApiVersion = "2024-10-21";

    /// <summary>
    /// With <see cref="BatchClientOptions.Api"/> set to this for Anthropic, the client counts tokens instead of answering:
    /// <c>POST /v1/messages/count_tokens</c>, and each succeeded result's <see cref="ResultLine.Usage"/> holds the exact
    /// input tokens (the rate limiter, retries and errors work as for messages).
    /// </summary>
    public const string AnthropicCountTokens = "count_tokens";

    /// <summary>
    /// Creates a client. Each <see cref="ISyncClient.SendAsync"/> is exactly one HTTP attempt; whether it may be retried,
    /// and after how long, is in the response (<see cref="SyncResponse.Retryable"/>, <see cref="SyncResponse.RetryAfter"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The Responses API was asked of a provider other than OpenAI.</exception>
    public static ISyncClient Create(BatchClientOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (OpenAIApis.IsResponses(options.Api) && options.Provider != ProviderNames.OpenAI)
        {
            throw new ArgumentException($"The Responses API is only used with OpenAI, not {options.Provider}.", nameof(options));
        }

        var clock = time ?? TimeProvider.System;

        // Sync POSTs are never marked retryable: the handler sends once and the caller retries through its rate limiter.
        // The caller also bounds each attempt, so HttpClient's own timeout (one more timer per request) is off.
        var http = ProviderHttp.CreateClient(options.Retry, clock, timeout: Timeout.InfiniteTimeSpan);
        return options.Provider switch
        {
            ProviderNames.Anthropic when options.Api == AnthropicCountTokens => new AnthropicCountTokensClient(http, options.BaseUrl, options.ApiKey, clock),
            ProviderNames.Anthropic => new AnthropicSyncClient(http, options.BaseUrl, options.ApiKey, clock),
            ProviderNames.Azure => new AzureSyncClient(http, options.BaseUrl, options.ApiKey, options.ApiVersion ?? AzureDefaultApiVersion, clock),
            _ when OpenAIApis.IsResponses(options.Api) => new OpenAIResponsesSyncClient(http, options.BaseUrl, options.ApiKey, clock),
            _ => new OpenAISyncClient(http, options.BaseUrl, options.ApiKey, clock, options.Provider),
        };
    }
}

/// <summary>Shared request/response handling of the sync clients: one attempt, errors as data, the retry verdict.</summary>
internal abstract class SyncClientBase : ISyncClient
{
    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };
    private readonly HttpClient _http;

    protected SyncClientBase(HttpClient http, TimeProvider time)
    {
        _http = http;
        Time = time;
    }

    public abstract string Provider { get; }

    protected TimeProvider Time { get; }

    /// <summary>The endpoint of a request (Azure's depends on the deployment, the others are fixed).</summary>
    protected abstract Uri EndpointOf(IdentifiedRequest request);

    protected abstract void WriteBody(Utf8JsonWriter writer, LlmRequest request);

    protected abstract void AddHeaders(HttpRequestHeaders headers);

    protected abstract ResultLine ParseSuccess(string customId, JsonElement body, int status);

    protected abstract RateLimitInfo ReadLimits(HttpResponseHeaders headers);

    /// <summary>True when a status means the key itself was refused (the whole run stops).</summary>
    protected virtual bool IsAuthFailure(int status) => status is 401 or 403;

    public async Task<SyncResponse> SendAsync(IdentifiedRequest request, CancellationToken cancellationToken = default)
    {
        using var message = CreateMessage(request);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            var failed = new ResultLine { CustomId = request.CustomId, Kind = ResultKind.Failed, ErrorCode = "connection_error", ErrorMessage = ex.GetBaseException().Message };
            return new SyncResponse(failed, null, 1) { Retryable = true };
        }

        using (response)
        {
            var limits = ReadLimits(response.Headers);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                try
                {
                    await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                    using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
                    return new SyncResponse(ParseSuccess(request.CustomId, doc.RootElement, status), limits, 1);
                }
                catch (JsonException ex)
                {
                    var failed = new ResultLine { CustomId = request.CustomId, Kind = ResultKind.Failed, StatusCode = status, ErrorCode = "invalid_response", ErrorMessage = "The response is not valid JSON: " + ex.Message };
                    return new SyncResponse(failed, limits, 1);
                }
            }

            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var (code, msg) = ProviderHttp.ParseError(text);
            if (IsAuthFailure(status))
            {
                throw new ProviderException(Provider, $"The request was refused: HTTP {status.ToString(CultureInfo.InvariantCulture)} {code}: {msg}", status, code, isAuthError: true);
            }

            var result = new ResultLine
            {
                CustomId = request.CustomId,
                Kind = ResultKind.Failed,
                StatusCode = status,
                ErrorCode = code ?? "http_" + status.ToString(CultureInfo.InvariantCulture),
                ErrorMessage = msg ?? $"The request failed with HTTP {status.ToString(CultureInfo.InvariantCulture)}.",
            };
            var retryable = RetryHandler.ShouldRetry(response) && !RetryHandler.IsSpendCap(status, RetryHandler.HasRetryHint(response), text);
            return new SyncResponse(result, limits, 1) { Retryable = retryable, RetryAfter = RetryHandler.ServerHint(response, Time) };
        }
    }

    private HttpRequestMessage CreateMessage(IdentifiedRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteBody(w, request.Request);
        }

        var message = new HttpRequestMessage(HttpMethod.Post, EndpointOf(request)) { Content = new ReadOnlyMemoryContent(buffer.WrittenMemory) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        AddHeaders(message.Headers);
        return message;
    }

    /// <summary>The base URL without a trailing slash.</summary>
    protected static string Root(Uri baseUrl) => baseUrl.ToString().TrimEnd('/');

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// OpenAI <c>POST /v1/chat/completions</c>, and every OpenAI-compatible server by base URL (vLLM, Ollama, LM Studio,
/// OpenRouter at <c>https://openrouter.ai/api/v1</c>).
/// </summary>
internal class OpenAISyncClient : SyncClientBase
{
    private readonly Uri _endpoint;
    private readonly AuthenticationHeaderValue _auth;

    public OpenAISyncClient(HttpClient http, Uri baseUrl, string apiKey, TimeProvider time, string provider)
        : base(http, time)
    {
        _endpoint = new Uri(Root(baseUrl) + "/chat/completions");
        _auth = new AuthenticationHeaderValue("Bearer", apiKey);
        Provider = provider;
    }

    public override string Provider { get; }

    protected override Uri EndpointOf(IdentifiedRequest request) => _endpoint;

    protected override void WriteBody(Utf8JsonWriter writer, LlmRequest request) => OpenAIBatchClient.WriteBody(writer, request);

    protected override void AddHeaders(HttpRequestHeaders headers) => headers.Authorization = _auth;

    // OpenRouter answers 403 for a moderated input (an item's failure), not for a bad key (401).
    protected override bool IsAuthFailure(int status) => Provider == ProviderNames.OpenRouter ? status == 401 : base.IsAuthFailure(status);

    protected override ResultLine ParseSuccess(string customId, JsonElement body, int status) => new()
    {
        CustomId = customId,
        Kind = ResultKind.Succeeded,
        StatusCode = status,
        Text = OpenAIBatchClient.ExtractText(body),
        Usage = OpenAIBatchClient.ExtractUsage(body),
    };

    protected override RateLimitInfo ReadLimits(HttpResponseHeaders headers) => RateLimitHeaders.OpenAI(headers, Time);
}

/// <summary>OpenAI <c>POST /v1/responses</c> (the Responses API).</summary>
internal sealed class OpenAIResponsesSyncClient : OpenAISyncClient
{
    private readonly Uri _endpoint;

    public OpenAIResponsesSyncClient(HttpClient http, Uri baseUrl, string apiKey, TimeProvider time)
        : base(http, baseUrl, apiKey, time, ProviderNames.OpenAI) => _endpoint = new Uri(Root(baseUrl) + "/responses");

    protected override Uri EndpointOf(IdentifiedRequest request) => _endpoint;

    protected override void WriteBody(Utf8JsonWriter writer, LlmRequest request) => ResponsesBody.Write(writer, request);

    protected override ResultLine ParseSuccess(string customId, JsonElement body, int status) => ResponsesBody.Parse(customId, body, status);
}

/// <summary>
/// Azure OpenAI <c>POST {resource}/openai/deployments/{deployment}/chat/completions?api-version=…</c> with the
/// <c>api-key</c> header; the job's model id is the deployment name. The body is OpenAI's (Azure ignores its model).
/// </summary>
internal sealed class AzureSyncClient : OpenAISyncClient
{
    private readonly string _root;
    private readonly string _apiKey;
    private readonly string _apiVersion;
    private readonly Dictionary<string, Uri> _endpoints = new(StringComparer.Ordinal);

    public AzureSyncClient(HttpClient http, Uri baseUrl, string apiKey, string apiVersion, TimeProvider time)
        : base(http, baseUrl, apiKey, time, ProviderNames.Azure)
    {
        // The resource URL, with or without the /openai suffix users copy from the portal.
        var root = Root(baseUrl);
        _root = root.EndsWith("/openai", StringComparison.OrdinalIgnoreCase) ? root[..^7] : root;
        _apiKey = apiKey;
        _apiVersion = apiVersion;
    }

    /// <summary>The chat completions URL of a deployment.</summary>
    public static Uri EndpointFor(string root, string deployment, string apiVersion) =>
        new($"{root}/openai/deployments/{Uri.EscapeDataString(deployment)}/chat/completions?api-version={Uri.EscapeDataString(apiVersion)}");

    protected override Uri EndpointOf(IdentifiedRequest request)
    {
        var model = request.Request.Model;
        lock (_endpoints)
        {
            if (!_endpoints.TryGetValue(model, out var uri))
            {
                _endpoints[model] = uri = EndpointFor(_root, model, _apiVersion);
            }

            return uri;
        }
    }

    protected override void AddHeaders(HttpRequestHeaders headers) => headers.TryAddWithoutValidation("api-key", _apiKey);
}

/// <summary>Anthropic <c>POST /v1/messages</c>.</summary>
internal class AnthropicSyncClient : SyncClientBase
{
    private readonly Uri _endpoint;
    private readonly string _apiKey;

    public AnthropicSyncClient(HttpClient http, Uri baseUrl, string apiKey, TimeProvider time, string path = "/v1/messages")
        : base(http, time)
    {
        _endpoint = new Uri(AnthropicRoot(baseUrl) + path);
        _apiKey = apiKey;
    }

    public override string Provider => ProviderNames.Anthropic;

    /// <summary>The host root of an Anthropic base URL (a trailing <c>/v1</c> is dropped).</summary>
    public static string AnthropicRoot(Uri baseUrl)
    {
        var b = Root(baseUrl);
        return b.EndsWith("/v1", StringComparison.Ordinal) ? b[..^3] : b;
    }

    protected override Uri EndpointOf(IdentifiedRequest request) => _endpoint;

    protected override void WriteBody(Utf8JsonWriter writer, LlmRequest request) => AnthropicBatchClient.WriteParams(writer, request);

    protected override void AddHeaders(HttpRequestHeaders headers)
    {
        headers.TryAddWithoutValidation("x-api-key", _apiKey);
        headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
    }

    protected override ResultLine ParseSuccess(string customId, JsonElement body, int status) =>
        AnthropicBatchClient.ParseMessage(customId, body, null) with { StatusCode = status };

    protected override RateLimitInfo ReadLimits(HttpResponseHeaders headers) => RateLimitHeaders.Anthropic(headers, Time);
}

/// <summary>Anthropic <c>POST /v1/messages/count_tokens</c>: the exact input tokens of a request, nothing generated.</summary>
internal sealed class AnthropicCountTokensClient(HttpClient http, Uri baseUrl, string apiKey, TimeProvider time)
    : AnthropicSyncClient(http, baseUrl, apiKey, time, "/v1/messages/count_tokens")
{
    protected override void WriteBody(Utf8JsonWriter writer, LlmRequest request) => AnthropicBatchClient.WriteParams(writer, request, forCountTokens: true);

    protected override ResultLine ParseSuccess(string customId, JsonElement body, int status) => body.Long("input_tokens") is { } n
        ? new ResultLine { CustomId = customId, Kind = ResultKind.Succeeded, StatusCode = status, Usage = new Items.TokenUsage(n, 0) }
        : new ResultLine { CustomId = customId, Kind = ResultKind.Failed, StatusCode = status, ErrorCode = "invalid_response", ErrorMessage = "The count_tokens response has no input_tokens." };
}
