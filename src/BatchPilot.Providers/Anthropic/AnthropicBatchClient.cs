using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using BatchPilot.Items;
using BatchPilot.Providers.Http;

namespace BatchPilot.Providers.Anthropic;

/// <summary>The Anthropic Message Batches API.</summary>
internal sealed class AnthropicBatchClient : IBatchClient
{
    /// <summary>Anthropic requires max_tokens; used when the job sets none.</summary>
    public const int DefaultMaxTokens = 1024;

    private const string Version = "2023-06-01";
    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly string _apiKey;
    private readonly string _spool;
    private readonly bool _ownsHttp;

    public AnthropicBatchClient(HttpClient http, Uri baseUrl, string apiKey, string spoolDirectory, ProviderLimits limits, bool ownsHttp)
    {
        _http = http;
        var b = baseUrl.ToString().TrimEnd('/');
        if (b.EndsWith("/v1", StringComparison.Ordinal))
        {
            b = b[..^3];
        }

        _base = new Uri(b + "/");
        _apiKey = apiKey;
        _spool = spoolDirectory;
        Limits = limits;
        _ownsHttp = ownsHttp;
    }

    public string Provider => ProviderNames.Anthropic;

    public ProviderLimits Limits { get; }

    private HttpRequestMessage Request(HttpMethod method, Uri uri, bool retryable = false)
    {
        var req = new HttpRequestMessage(method, uri);
        req.Headers.TryAddWithoutValidation("x-api-key", _apiKey);
        req.Headers.TryAddWithoutValidation("anthropic-version", Version);
        if (retryable)
        {
            req.Options.Set(RetryHandler.Retryable, true);
        }

        return req;
    }

    private HttpRequestMessage Request(HttpMethod method, string relative, bool retryable = false) => Request(method, new Uri(_base, relative), retryable);

    /// <summary>
    /// Writes the Messages API params of a request. <paramref name="forCountTokens"/> leaves out what
    /// <c>/v1/messages/count_tokens</c> does not take (<c>max_tokens</c>, sampling parameters).
    /// </summary>
    internal static void WriteParams(Utf8JsonWriter w, LlmRequest r, bool forCountTokens = false)
    {
        if (r.RawBody is not null)
        {
            // A raw requests file's params, validated when the file was read: byte for byte, unknown fields included.
            w.WriteRawValue(r.RawBody, skipInputValidation: true);
            return;
        }

        w.WriteStartObject();
        w.WriteString("model", r.Model);
        if (!forCountTokens)
        {
            w.WriteNumber("max_tokens", r.MaxTokens ?? DefaultMaxTokens);
        }

        if (!string.IsNullOrEmpty(r.System))
        {
            w.WriteString("system", r.System);
        }

        w.WriteStartArray("messages");
        foreach (var turn in r.PriorTurns)
        {
            w.WriteStartObject();
            w.WriteString("role", turn.Role);
            w.WriteString("content", turn.Text);
            w.WriteEndObject();
        }

        w.WriteStartObject();
        w.WriteString("role", "user");
        ImageParts.WriteUserContent(w, r, ImageParts.WriteAnthropic);

        w.WriteEndObject();
        w.WriteEndArray();
        if (r.Temperature is { } t && !forCountTokens)
        {
            w.WriteNumber("temperature", t);
        }

        if (r.ResponseFormat is { } format)
        {
            // Structured output through one tool the model must call; its input is the answer.
            w.WriteStartArray("tools");
            w.WriteStartObject();
            w.WriteString("name", format.Name);
            w.WriteString("description", "Give the answer in this structure.");
            w.WritePropertyName("input_schema");
            w.WriteRawValue(format.SchemaJson, skipInputValidation: true);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartObject("tool_choice");
            w.WriteString("type", "tool");
            w.WriteString("name", format.Name);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteEntry(Utf8JsonWriter w, IdentifiedRequest r)
    {
        w.WriteStartObject();
        w.WriteString("custom_id", r.CustomId);
        w.WritePropertyName("params");
        WriteParams(w, r.Request);
        w.WriteEndObject();
    }

    public int MeasureRequest(IdentifiedRequest request) => JsonLines.Measure(w => WriteEntry(w, request)) + 1;

    public async Task<string> StageAsync(BatchStaging staging, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(staging);
        Directory.CreateDirectory(_spool);
        var path = Path.Combine(_spool, staging.Token + ".json");
        var tmp = path + ".tmp";
        await using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await using var w = JsonLines.Writer(file);
            w.WriteStartObject();
            w.WriteStartArray("requests");
            await foreach (var r in staging.Requests.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                WriteEntry(w, r);
                if (w.BytesPending > 1 << 16)
                {
                    await w.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
            await w.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        File.Move(tmp, path, overwrite: true);
        return path;
    }

    public Task<bool> IsStagedAsync(string staged, CancellationToken cancellationToken = default) => Task.FromResult(File.Exists(staged));

    public async Task<ProviderBatch> CreateAsync(string staged, string token, CancellationToken cancellationToken = default)
    {
        using var req = Request(HttpMethod.Post, "v1/messages/batches");
        await using var file = new FileStream(staged, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        req.Content = new StreamContent(file, 1 << 16);
        req.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        HttpResponseMessage resp;
        try
        {
            resp = await _http.SendAsync(req, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw ProviderHttp.Transport(Provider, "Creating the message batch", ex, mayHaveSucceeded: true);
        }

        using (resp)
        {
            await ProviderHttp.EnsureSuccessAsync(Provider, resp, "Creating the message batch", cancellationToken).ConfigureAwait(false);
            return await ReadBatchAsync(resp, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<ProviderBatch> GetAsync(string providerBatchId, CancellationToken cancellationToken = default)
    {
        using var req = Request(HttpMethod.Get, "v1/messages/batches/" + Uri.EscapeDataString(providerBatchId));
        using var resp = await Send(req, "Reading message batch " + providerBatchId, cancellationToken).ConfigureAwait(false);
        return await ReadBatchAsync(resp, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<ProviderBatch> ListRecentAsync(DateTimeOffset since, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? after = null;
        for (var page = 0; page < 1000; page++)
        {
            var url = "v1/messages/batches?limit=100" + (after is null ? string.Empty : "&after_id=" + Uri.EscapeDataString(after));
            using var req = Request(HttpMethod.Get, url);
            using var resp = await Send(req, "Listing message batches", cancellationToken).ConfigureAwait(false);
            using var doc = await JsonDocument.ParseAsync(await resp.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
            var root = doc.RootElement;
            var older = false;
            var any = false;
            if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
            {
                foreach (var b in data.EnumerateArray())
                {
                    any = true;
                    var batch = Map(b);
                    if (batch.CreatedAt is { } created && created < since)
                    {
                        older = true;
                        continue;
                    }

                    yield return batch;
                }
            }

            after = root.Str("last_id");
            var hasMore = root.TryGetProperty("has_more", out var hm) && hm.ValueKind == JsonValueKind.True;
            if (!any || !hasMore || older || after is null)
            {
                yield break;
            }
        }
    }

    public async Task<ProviderBatch> CancelAsync(string providerBatchId, CancellationToken cancellationToken = default)
    {
        using var req = Request(HttpMethod.Post, "v1/messages/batches/" + Uri.EscapeDataString(providerBatchId) + "/cancel", retryable: true);
        using var resp = await Send(req, "Cancelling message batch " + providerBatchId, cancellationToken).ConfigureAwait(false);
        return await ReadBatchAsync(resp, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<ResultLine> ReadResultsAsync(ProviderBatch batch, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var uri = batch.ResultsUrl is { } u && Uri.TryCreate(u, UriKind.Absolute, out var abs)
            ? abs
            : new Uri(_base, "v1/messages/batches/" + Uri.EscapeDataString(batch.Id) + "/results");
        using var req = Request(HttpMethod.Get, uri);
        using var resp = await Send(req, "Downloading results of " + batch.Id, cancellationToken, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        await using var stream = await resp.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var (n, line) in JsonLines.ReadAsync(stream, Provider, "Downloading results of " + batch.Id, cancellationToken).ConfigureAwait(false))
        {
            yield return ParseResultLine(line, "results line " + n.ToString(CultureInfo.InvariantCulture)) with { Raw = line };
        }
    }

    internal static ResultLine ParseResultLine(string line, string source)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException)
        {
            return new ResultLine { Kind = ResultKind.Malformed, Source = source, ErrorMessage = "not valid JSON" };
        }

        using (doc)
        {
            var root = doc.RootElement;
            var customId = root.Str("custom_id");
            if (customId is null || root.Obj("result") is not { } result)
            {
                return new ResultLine { Kind = ResultKind.Malformed, CustomId = customId, Source = source, ErrorMessage = "no custom_id or result" };
            }

            switch (result.Str("type"))
            {
                case "succeeded":
                    return ParseMessage(customId, result.Obj("message"), source);
                case "errored":
                    var err = result.Obj("error");
                    var inner = err?.Obj("error") ?? err;
                    return new ResultLine
                    {
                        CustomId = customId,
                        Kind = ResultKind.Failed,
                        ErrorCode = inner?.Str("type") ?? "api_error",
                        ErrorMessage = inner?.Str("message") ?? "The request errored.",
                        Source = source,
                    };
                case "canceled":
                    return new ResultLine { CustomId = customId, Kind = ResultKind.Cancelled, ErrorCode = "canceled", ErrorMessage = "The batch was cancelled before this request ran.", Source = source };
                case "expired":
                    return new ResultLine { CustomId = customId, Kind = ResultKind.Expired, ErrorCode = "expired", ErrorMessage = "The batch expired before this request ran.", Source = source };
                default:
                    return new ResultLine { Kind = ResultKind.Malformed, CustomId = customId, Source = source, ErrorMessage = "unknown result type" };
            }
        }
    }

    /// <summary>A Messages API <c>message</c> (a sync response, or a batch result's message) as a succeeded result.</summary>
    internal static ResultLine ParseMessage(string customId, JsonElement? message, string? source)
    {
        var sb = new StringBuilder();
        string? toolInput = null;
        if (message is { } m && m.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in content.EnumerateArray())
            {
                if (block.Str("type") == "text" && block.Str("text") is { } t)
                {
                    sb.Append(t);
                }
                else if (toolInput is null && block.Str("type") == "tool_use" && block.TryGetProperty("input", out var input))
                {
                    // Structured output: the forced tool's input is the answer.
                    toolInput = Planning.AnswerSchema.CompactJson(input);
                }
            }
        }

        TokenUsage? usage = null;
        if (message?.Obj("usage") is { } u)
        {
            var cached = u.Long("cache_read_input_tokens") ?? 0;
            usage = new TokenUsage((u.Long("input_tokens") ?? 0) + cached + (u.Long("cache_creation_input_tokens") ?? 0), u.Long("output_tokens") ?? 0, cached);
        }

        return new ResultLine { CustomId = customId, Kind = ResultKind.Succeeded, Text = toolInput ?? sb.ToString(), Usage = usage, StatusCode = 200, Source = source };
    }

    public Task CleanupStagedAsync(string staged, CancellationToken cancellationToken = default)
    {
        try
        {
            File.Delete(staged);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Task.CompletedTask;
    }

    private async Task<HttpResponseMessage> Send(HttpRequestMessage req, string what, CancellationToken cancellationToken, HttpCompletionOption option = HttpCompletionOption.ResponseContentRead)
    {
        HttpResponseMessage resp;
        try
        {
            resp = await _http.SendAsync(req, option, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw ProviderHttp.Transport(Provider, what, ex, mayHaveSucceeded: req.Method != HttpMethod.Get);
        }

        if (resp.StatusCode == HttpStatusCode.NotFound)
        {
            resp.Dispose();
            throw new ProviderException(Provider, what + " failed: HTTP 404 not_found_error", 404, "not_found_error");
        }

        try
        {
            await ProviderHttp.EnsureSuccessAsync(Provider, resp, what, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            resp.Dispose();
            throw;
        }

        return resp;
    }

    private async Task<ProviderBatch> ReadBatchAsync(HttpResponseMessage resp, CancellationToken cancellationToken)
    {
        var text = await resp.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(text);
            return Map(doc.RootElement) with { RawJson = text };
        }
        catch (JsonException ex)
        {
            throw new ProviderException(Provider, "The message batch response is not valid JSON: " + ex.Message, (int)resp.StatusCode);
        }
    }

    internal static ProviderBatch Map(JsonElement b)
    {
        var status = b.Str("processing_status") ?? "unknown";
        var c = b.Obj("request_counts");
        long N(string name) => c?.Long(name) ?? 0;
        var processing = N("processing");
        var done = N("succeeded") + N("errored") + N("canceled") + N("expired");
        var created = b.Str("created_at") is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var dt) ? dt : (DateTimeOffset?)null;
        return new ProviderBatch
        {
            Id = b.Str("id") ?? throw new ProviderException(ProviderNames.Anthropic, "The message batch response has no id."),
            Status = status,
            End = status == "ended" ? BatchEnd.Completed : BatchEnd.None,
            Total = (int)(processing + done),
            Done = (int)done,
            FailedCount = (int)(N("errored") + N("canceled") + N("expired")),
            CreatedAt = created,
            ResultsUrl = b.Str("results_url"),
        };
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
