using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using BatchPilot.Items;
using BatchPilot.Providers.Http;

namespace BatchPilot.Providers.OpenAI;

/// <summary>The OpenAI Files + Batch API (and compatible servers).</summary>
internal sealed class OpenAIBatchClient : IBatchClient
{
    /// <summary>Metadata key that carries our client token.</summary>
    public const string TokenKey = "batchpilot_token";

    /// <summary>The endpoint of table jobs' batches.</summary>
    public const string ChatEndpoint = "/v1/chat/completions";

    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly string _apiKey;
    private readonly string _spool;
    private readonly bool _ownsHttp;

    public OpenAIBatchClient(HttpClient http, Uri baseUrl, string apiKey, string spoolDirectory, ProviderLimits limits, bool ownsHttp)
    {
        _http = http;
        _base = new Uri(baseUrl.ToString().TrimEnd('/') + "/");
        _apiKey = apiKey;
        _spool = spoolDirectory;
        Limits = limits;
        _ownsHttp = ownsHttp;
    }

    public string Provider => ProviderNames.OpenAI;

    public ProviderLimits Limits { get; }

    /// <summary>
    /// The endpoint of every batch this client creates and each line's <c>url</c>: chat completions, the Responses API
    /// (<see cref="ResponsesBody.Endpoint"/>, whose body is written by <see cref="ResponsesBody"/>), or a raw batch file's url.
    /// </summary>
    public string BatchEndpoint { get; init; } = ChatEndpoint;

    private HttpRequestMessage Request(HttpMethod method, string relative, bool retryable = false)
    {
        var req = new HttpRequestMessage(method, new Uri(_base, relative));
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
        if (retryable)
        {
            req.Options.Set(RetryHandler.Retryable, true);
        }

        return req;
    }

    internal static bool UsesMaxCompletionTokens(string model) =>
        model.StartsWith("o1", StringComparison.OrdinalIgnoreCase) || model.StartsWith("o3", StringComparison.OrdinalIgnoreCase)
        || model.StartsWith("o4", StringComparison.OrdinalIgnoreCase) || model.StartsWith("gpt-5", StringComparison.OrdinalIgnoreCase);

    /// <summary>Writes the chat completions body of a request.</summary>
    internal static void WriteBody(Utf8JsonWriter w, LlmRequest r)
    {
        if (r.RawBody is not null)
        {
            // A raw batch file's body, validated when the file was read: byte for byte, unknown fields included.
            w.WriteRawValue(r.RawBody, skipInputValidation: true);
            return;
        }

        w.WriteStartObject();
        w.WriteString("model", r.Model);
        w.WriteStartArray("messages");
        if (!string.IsNullOrEmpty(r.System))
        {
            w.WriteStartObject();
            w.WriteString("role", "system");
            w.WriteString("content", r.System);
            w.WriteEndObject();
        }

        foreach (var turn in r.PriorTurns)
        {
            w.WriteStartObject();
            w.WriteString("role", turn.Role);
            w.WriteString("content", turn.Text);
            w.WriteEndObject();
        }

        w.WriteStartObject();
        w.WriteString("role", "user");
        ImageParts.WriteUserContent(w, r, ImageParts.WriteOpenAI);

        w.WriteEndObject();
        w.WriteEndArray();
        if (r.MaxTokens is { } max)
        {
            w.WriteNumber(UsesMaxCompletionTokens(r.Model) ? "max_completion_tokens" : "max_tokens", max);
        }

        if (r.Temperature is { } t)
        {
            w.WriteNumber("temperature", t);
        }

        if (r.ResponseFormat is { } format)
        {
            WriteResponseFormat(w, format);
        }

        w.WriteEndObject();
    }

    /// <summary>
    /// Responses API structured output: <c>"text":{"format":{"type":"json_schema","name","schema","strict":true}}</c>
    /// (for the Responses body writer; chat completions use <see cref="WriteResponseFormat"/>).
    /// </summary>
    internal static void WriteTextFormat(Utf8JsonWriter w, ResponseFormat format)
    {
        w.WriteStartObject("text");
        w.WriteStartObject("format");
        w.WriteString("type", "json_schema");
        WriteSchemaFields(w, format);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSchemaFields(Utf8JsonWriter w, ResponseFormat format)
    {
        w.WriteString("name", format.Name);
        w.WritePropertyName("schema");
        w.WriteRawValue(format.SchemaJson, skipInputValidation: true);
        w.WriteBoolean("strict", true);
    }

    /// <summary>Chat completions structured output: <c>"response_format":{"type":"json_schema","json_schema":{"name","schema","strict":true}}</c>.</summary>
    internal static void WriteResponseFormat(Utf8JsonWriter w, ResponseFormat format)
    {
        w.WriteStartObject("response_format");
        w.WriteString("type", "json_schema");
        w.WriteStartObject("json_schema");
        WriteSchemaFields(w, format);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    internal static void WriteLine(Utf8JsonWriter w, IdentifiedRequest r, string endpoint = ChatEndpoint)
    {
        w.WriteStartObject();
        w.WriteString("custom_id", r.CustomId);
        w.WriteString("method", "POST");
        w.WriteString("url", endpoint);
        w.WritePropertyName("body");

        // A raw batch file's body is written as it is whatever its url; a table job's body follows the endpoint's API.
        if (r.Request.RawBody is null && endpoint == ResponsesBody.Endpoint)
        {
            ResponsesBody.Write(w, r.Request);
        }
        else
        {
            WriteBody(w, r.Request);
        }

        w.WriteEndObject();
    }

    public int MeasureRequest(IdentifiedRequest request) => JsonLines.Measure(w => WriteLine(w, request, BatchEndpoint)) + 1;

    public async Task<string> StageAsync(BatchStaging staging, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(staging);
        Directory.CreateDirectory(_spool);
        var path = Path.Combine(_spool, staging.Token + ".jsonl");
        try
        {
            await WriteRequestFileAsync(path, staging.Requests, BatchEndpoint, cancellationToken).ConfigureAwait(false);
            using var content = new MultipartFormDataContent();
            content.Add(new StringContent("batch"), "purpose");
            await using var upload = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            var fileContent = new StreamContent(upload, 1 << 16);
            fileContent.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
            content.Add(fileContent, "file", staging.Token + ".jsonl");
            using var req = Request(HttpMethod.Post, "files");
            req.Content = content;
            HttpResponseMessage resp;
            try
            {
                resp = await _http.SendAsync(req, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                throw ProviderHttp.Transport(Provider, "Uploading the batch input file", ex, mayHaveSucceeded: true);
            }

            using (resp)
            {
                await ProviderHttp.EnsureSuccessAsync(Provider, resp, "Uploading the batch input file", cancellationToken).ConfigureAwait(false);
                using var doc = await JsonDocument.ParseAsync(await resp.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
                return doc.RootElement.Str("id") ?? throw new ProviderException(Provider, "Uploading the batch input file: the response has no file id");
            }
        }
        finally
        {
            TryDelete(path);
        }
    }

    /// <summary>Writes the batch input file that <see cref="StageAsync"/> uploads: one request line per request, in order.</summary>
    internal static async Task WriteRequestFileAsync(string path, IAsyncEnumerable<IdentifiedRequest> requests, string endpoint, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await using var lines = JsonLines.LinesWriter(file);
        await foreach (var r in requests.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            WriteLine(lines.Writer, r, endpoint);
            await lines.EndLineAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public async Task<bool> IsStagedAsync(string staged, CancellationToken cancellationToken = default)
    {
        using var req = Request(HttpMethod.Get, "files/" + Uri.EscapeDataString(staged));
        using var resp = await _http.SendAsync(req, cancellationToken).ConfigureAwait(false);
        if (resp.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await ProviderHttp.EnsureSuccessAsync(Provider, resp, "Checking the uploaded input file", cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<ProviderBatch> CreateAsync(string staged, string token, CancellationToken cancellationToken = default)
    {
        using var req = Request(HttpMethod.Post, "batches");
        var body = new MemoryStream();
        await using (var w = JsonLines.Writer(body))
        {
            w.WriteStartObject();
            w.WriteString("input_file_id", staged);
            w.WriteString("endpoint", BatchEndpoint);
            w.WriteString("completion_window", "24h");
            w.WriteStartObject("metadata");
            w.WriteString(TokenKey, token);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        req.Content = new ByteArrayContent(body.ToArray());
        req.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        HttpResponseMessage resp;
        try
        {
            resp = await _http.SendAsync(req, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw ProviderHttp.Transport(Provider, "Creating the batch", ex, mayHaveSucceeded: true);
        }

        using (resp)
        {
            await ProviderHttp.EnsureSuccessAsync(Provider, resp, "Creating the batch", cancellationToken).ConfigureAwait(false);
            return await ReadBatchAsync(resp, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<ProviderBatch> GetAsync(string providerBatchId, CancellationToken cancellationToken = default)
    {
        using var req = Request(HttpMethod.Get, "batches/" + Uri.EscapeDataString(providerBatchId));
        using var resp = await Send(req, "Reading batch " + providerBatchId, cancellationToken).ConfigureAwait(false);
        return await ReadBatchAsync(resp, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<ProviderBatch> ListRecentAsync(DateTimeOffset since, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? after = null;
        for (var page = 0; page < 1000; page++)
        {
            var url = "batches?limit=100" + (after is null ? string.Empty : "&after=" + Uri.EscapeDataString(after));
            using var req = Request(HttpMethod.Get, url);
            using var resp = await Send(req, "Listing batches", cancellationToken).ConfigureAwait(false);
            using var doc = await JsonDocument.ParseAsync(await resp.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
            var root = doc.RootElement;
            var any = false;
            var older = false;
            if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
            {
                foreach (var b in data.EnumerateArray())
                {
                    any = true;
                    var batch = Map(b);
                    after = batch.Id;
                    if (batch.CreatedAt is { } created && created < since)
                    {
                        older = true;
                        continue;
                    }

                    yield return batch;
                }
            }

            var hasMore = root.TryGetProperty("has_more", out var hm) && hm.ValueKind == JsonValueKind.True;
            if (!any || !hasMore || older)
            {
                yield break;
            }
        }
    }

    public async Task<ProviderBatch> CancelAsync(string providerBatchId, CancellationToken cancellationToken = default)
    {
        using var req = Request(HttpMethod.Post, "batches/" + Uri.EscapeDataString(providerBatchId) + "/cancel", retryable: true);
        using var resp = await Send(req, "Cancelling batch " + providerBatchId, cancellationToken).ConfigureAwait(false);
        return await ReadBatchAsync(resp, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<ResultLine> ReadResultsAsync(ProviderBatch batch, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        foreach (var (fileId, source) in new[] { (batch.OutputFileId, "output"), (batch.ErrorFileId, "error") })
        {
            if (fileId is null)
            {
                continue;
            }

            using var req = Request(HttpMethod.Get, "files/" + Uri.EscapeDataString(fileId) + "/content");
            using var resp = await Send(req, $"Downloading the {source} file {fileId}", cancellationToken, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
            await using var stream = await resp.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await foreach (var (n, line) in JsonLines.ReadAsync(stream, Provider, $"Downloading the {source} file {fileId}", cancellationToken).ConfigureAwait(false))
            {
                yield return ParseOutputLine(line, $"{source} file {fileId} line {n.ToString(CultureInfo.InvariantCulture)}") with { Raw = line };
            }
        }
    }

    /// <summary>Maps one output/error file line. A line succeeds only with <c>error == null</c> and a 2xx status.</summary>
    internal static ResultLine ParseOutputLine(string line, string source)
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
            if (root.ValueKind != JsonValueKind.Object || customId is null)
            {
                return new ResultLine { Kind = ResultKind.Malformed, Source = source, ErrorMessage = "no custom_id" };
            }

            if (root.Obj("error") is { } error)
            {
                var code = error.Str("code") ?? "unknown_error";
                var kind = code switch
                {
                    "batch_expired" => ResultKind.Expired,
                    "batch_cancelled" => ResultKind.Cancelled,
                    _ => ResultKind.Failed,
                };
                return new ResultLine { CustomId = customId, Kind = kind, ErrorCode = code, ErrorMessage = error.Str("message"), Source = source };
            }

            if (root.Obj("response") is not { } response)
            {
                return new ResultLine { CustomId = customId, Kind = ResultKind.Failed, ErrorCode = "missing_response", ErrorMessage = "The result line has neither a response nor an error.", Source = source };
            }

            var status = (int)(response.Long("status_code") ?? 0);
            var body = response.Obj("body");
            if (status is < 200 or >= 300)
            {
                var err = body?.Obj("error");
                return new ResultLine
                {
                    CustomId = customId,
                    Kind = ResultKind.Failed,
                    StatusCode = status,
                    ErrorCode = err?.Str("code") ?? err?.Str("type") ?? $"http_{status.ToString(CultureInfo.InvariantCulture)}",
                    ErrorMessage = err?.Str("message") ?? $"The request failed with HTTP {status.ToString(CultureInfo.InvariantCulture)}.",
                    Source = source,
                };
            }

            if (body is not { } b)
            {
                return new ResultLine { CustomId = customId, Kind = ResultKind.Failed, StatusCode = status, ErrorCode = "missing_body", ErrorMessage = "The response has no body.", Source = source };
            }

            return new ResultLine { CustomId = customId, Kind = ResultKind.Succeeded, StatusCode = status, Text = ExtractText(b), Usage = ExtractUsage(b), Source = source };
        }
    }

    /// <summary>Text of a chat completion or a Responses API body.</summary>
    internal static string ExtractText(JsonElement body)
    {
        if (body.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            foreach (var c in choices.EnumerateArray())
            {
                if (c.Obj("message") is { } m)
                {
                    if (m.Str("content") is { } content)
                    {
                        return content;
                    }

                    if (m.Str("refusal") is { } refusal)
                    {
                        return refusal;
                    }
                }

                return string.Empty;
            }
        }

        if (body.Str("output_text") is { } ot)
        {
            return ot;
        }

        if (body.TryGetProperty("output", out var output) && output.ValueKind == JsonValueKind.Array)
        {
            var sb = new StringBuilder();
            foreach (var o in output.EnumerateArray())
            {
                if (o.TryGetProperty("content", out var parts) && parts.ValueKind == JsonValueKind.Array)
                {
                    foreach (var p in parts.EnumerateArray())
                    {
                        if (p.Str("type") == "output_text" && p.Str("text") is { } t)
                        {
                            sb.Append(t);
                        }
                    }
                }
            }

            return sb.ToString();
        }

        return string.Empty;
    }

    internal static TokenUsage? ExtractUsage(JsonElement body)
    {
        if (body.Obj("usage") is not { } u)
        {
            return null;
        }

        var input = u.Long("prompt_tokens") ?? u.Long("input_tokens") ?? 0;
        var output = u.Long("completion_tokens") ?? u.Long("output_tokens") ?? 0;
        var cached = (u.Obj("prompt_tokens_details") ?? u.Obj("input_tokens_details"))?.Long("cached_tokens") ?? 0;
        return new TokenUsage(input, output, cached);
    }

    public async Task CleanupStagedAsync(string staged, CancellationToken cancellationToken = default)
    {
        try
        {
            using var req = Request(HttpMethod.Delete, "files/" + Uri.EscapeDataString(staged));
            using var resp = await _http.SendAsync(req, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            // best effort: files with purpose batch expire on their own
        }
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
            throw new ProviderException(Provider, "The batch response is not valid JSON: " + ex.Message, (int)resp.StatusCode);
        }
    }

    internal static ProviderBatch Map(JsonElement b)
    {
        var status = b.Str("status") ?? "unknown";
        var counts = b.Obj("request_counts");
        var completed = (int)(counts?.Long("completed") ?? 0);
        var failed = (int)(counts?.Long("failed") ?? 0);
        Dictionary<string, string>? metadata = null;
        if (b.Obj("metadata") is { } md)
        {
            metadata = [];
            foreach (var p in md.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.String)
                {
                    metadata[p.Name] = p.Value.GetString()!;
                }
            }
        }

        var errors = new List<ProviderBatchError>();
        if (b.Obj("errors") is { } errs && errs.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in data.EnumerateArray())
            {
                errors.Add(new ProviderBatchError(e.Str("code"), e.Str("message"), (int?)e.Long("line")));
            }
        }

        return new ProviderBatch
        {
            Id = b.Str("id") ?? throw new ProviderException(ProviderNames.OpenAI, "The batch response has no id."),
            Status = status,
            End = status switch
            {
                "completed" => BatchEnd.Completed,
                "failed" => BatchEnd.Failed,
                "expired" => BatchEnd.Expired,
                "cancelled" => BatchEnd.Cancelled,
                _ => BatchEnd.None,
            },
            Total = (int)(counts?.Long("total") ?? 0),
            Done = completed + failed,
            FailedCount = failed,
            CreatedAt = b.Long("created_at") is { } ca ? DateTimeOffset.FromUnixTimeSeconds(ca) : null,
            Metadata = metadata,
            InputFileId = b.Str("input_file_id"),
            OutputFileId = b.Str("output_file_id"),
            ErrorFileId = b.Str("error_file_id"),
            Errors = errors,
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

/// <summary>Request bodies as the batch and sync clients write them, for previews.</summary>
public static class ProviderRequestBodies
{
    /// <summary>Writes the provider's request body (OpenAI chat completion body, Anthropic message params) of a request.</summary>
    /// <param name="writer">Where to write.</param>
    /// <param name="provider">The provider name (<see cref="ProviderNames"/>).</param>
    /// <param name="request">The request.</param>
    public static void Write(Utf8JsonWriter writer, string provider, LlmRequest request)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(request);
        if (provider == ProviderNames.Anthropic)
        {
            Anthropic.AnthropicBatchClient.WriteParams(writer, request);
        }
        else
        {
            OpenAIBatchClient.WriteBody(writer, request);
        }
    }
}
