using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using BatchPilot.Providers.Anthropic;
using BatchPilot.Providers.Http;
using BatchPilot.Providers.OpenAI;

namespace BatchPilot.Providers;

/// <summary>Creates synchronous clients (OpenAI chat completions or any compatible server; Anthropic messages).</summary>
public static class SyncClients
{
    /// <summary>Creates a client. Transient failures are retried with backoff, honouring the server's hints.</summary>
    public static ISyncClient Create(BatchClientOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = time ?? TimeProvider.System;
        var http = ProviderHttp.CreateClient(options.Retry, clock, options.OnRetry);
        return options.Provider == ProviderNames.Anthropic
            ? new AnthropicSyncClient(http, options.BaseUrl, options.ApiKey, clock)
            : new OpenAISyncClient(http, options.BaseUrl, options.ApiKey, clock);
    }
}

/// <summary>Shared request/response handling of the sync clients.</summary>
internal abstract class SyncClientBase : ISyncClient
{
    private readonly HttpClient _http;

    protected SyncClientBase(HttpClient http, TimeProvider time)
    {
        _http = http;
        Time = time;
    }

    public abstract string Provider { get; }

    protected TimeProvider Time { get; }

    protected abstract HttpRequestMessage CreateRequest(IdentifiedRequest request);

    protected abstract ResultLine ParseSuccess(string customId, JsonElement body);

    protected abstract RateLimitInfo ReadLimits(HttpResponseHeaders headers);

    public async Task<SyncResponse> SendAsync(IdentifiedRequest request, CancellationToken cancellationToken = default)
    {
        using var message = CreateRequest(request);
        message.Options.Set(RetryHandler.Retryable, true);
        var attempts = new StrongBox<int>(1);
        message.Options.Set(RetryHandler.AttemptCount, attempts);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            var failed = new ResultLine { CustomId = request.CustomId, Kind = ResultKind.Failed, ErrorCode = "connection_error", ErrorMessage = ex.GetBaseException().Message };
            return new SyncResponse(failed, null, attempts.Value);
        }

        using (response)
        {
            var limits = ReadLimits(response.Headers);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                var (c, m) = ProviderHttp.ParseError(text);
                throw new ProviderException(Provider, $"The request was refused: HTTP {status} {c}: {m}", status, c, isAuthError: true);
            }

            if (!response.IsSuccessStatusCode)
            {
                var (code, msg) = ProviderHttp.ParseError(text);
                var failed = new ResultLine
                {
                    CustomId = request.CustomId,
                    Kind = ResultKind.Failed,
                    StatusCode = status,
                    ErrorCode = code ?? "http_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ErrorMessage = msg ?? $"The request failed with HTTP {status}.",
                };
                return new SyncResponse(failed, limits, attempts.Value);
            }

            try
            {
                using var doc = JsonDocument.Parse(text);
                return new SyncResponse(ParseSuccess(request.CustomId, doc.RootElement) with { StatusCode = status }, limits, attempts.Value);
            }
            catch (JsonException ex)
            {
                var failed = new ResultLine { CustomId = request.CustomId, Kind = ResultKind.Failed, StatusCode = status, ErrorCode = "invalid_response", ErrorMessage = "The response is not valid JSON: " + ex.Message };
                return new SyncResponse(failed, limits, attempts.Value);
            }
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>OpenAI <c>POST /v1/chat/completions</c> (and OpenAI-compatible servers).</summary>
internal sealed class OpenAISyncClient : SyncClientBase
{
    private readonly Uri _endpoint;
    private readonly string _apiKey;

    public OpenAISyncClient(HttpClient http, Uri baseUrl, string apiKey, TimeProvider time)
        : base(http, time)
    {
        _endpoint = new Uri(baseUrl.ToString().TrimEnd('/') + "/chat/completions");
        _apiKey = apiKey;
    }

    public override string Provider => ProviderNames.OpenAI;

    protected override HttpRequestMessage CreateRequest(IdentifiedRequest request)
    {
        var body = new MemoryStream();
        using (var w = JsonLines.Writer(body))
        {
            OpenAIBatchClient.WriteBody(w, request.Request);
        }

        var message = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body.ToArray()) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
        return message;
    }

    protected override ResultLine ParseSuccess(string customId, JsonElement body) => new()
    {
        CustomId = customId,
        Kind = ResultKind.Succeeded,
        Text = OpenAIBatchClient.ExtractText(body),
        Usage = OpenAIBatchClient.ExtractUsage(body),
    };

    protected override RateLimitInfo ReadLimits(HttpResponseHeaders headers) => RateLimitHeaders.OpenAI(headers, Time);
}

/// <summary>Anthropic <c>POST /v1/messages</c>.</summary>
internal sealed class AnthropicSyncClient : SyncClientBase
{
    private readonly Uri _endpoint;
    private readonly string _apiKey;

    public AnthropicSyncClient(HttpClient http, Uri baseUrl, string apiKey, TimeProvider time)
        : base(http, time)
    {
        var b = baseUrl.ToString().TrimEnd('/');
        _endpoint = new Uri((b.EndsWith("/v1", StringComparison.Ordinal) ? b[..^3] : b) + "/v1/messages");
        _apiKey = apiKey;
    }

    public override string Provider => ProviderNames.Anthropic;

    protected override HttpRequestMessage CreateRequest(IdentifiedRequest request)
    {
        var body = new MemoryStream();
        using (var w = JsonLines.Writer(body))
        {
            AnthropicBatchClient.WriteParams(w, request.Request);
        }

        var message = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body.ToArray()) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.TryAddWithoutValidation("x-api-key", _apiKey);
        message.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
        return message;
    }

    protected override ResultLine ParseSuccess(string customId, JsonElement body)
    {
        // A Messages response has the same shape as a batch 'succeeded' result's message.
        var line = "{\"custom_id\":" + JsonSerializer.Serialize(customId, ProvidersJson.Default.String) + ",\"result\":{\"type\":\"succeeded\",\"message\":" + body.GetRawText() + "}}";
        return AnthropicBatchClient.ParseResultLine(line, "messages");
    }

    protected override RateLimitInfo ReadLimits(HttpResponseHeaders headers) => RateLimitHeaders.Anthropic(headers, Time);
}

/// <summary>JSON helpers of the providers project.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class ProvidersJson : System.Text.Json.Serialization.JsonSerializerContext;
