using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace BatchPilot.Emulator.Infrastructure;

/// <summary>One server-sent event: an optional <c>event:</c> name and its <c>data:</c> (JSON, or <c>[DONE]</c>).</summary>
internal readonly record struct ServerSentEvent(string? Name, ReadOnlyMemory<byte> Data);

/// <summary>JSON responses, event streams and the two providers' error envelopes.</summary>
internal static class Wire
{
    public const string OpenAI = "openai";
    public const string Anthropic = "anthropic";

    /// <summary>Like the real APIs: UTF-8 text stays as is (no \u escapes for accents or quotes in text).</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static readonly JsonDocumentOptions ReadOptions = new() { MaxDepth = 256 };

    /// <summary>Which provider's conventions apply to a request.</summary>
    public static string ProviderOf(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        if (path.StartsWith("/v1/messages", StringComparison.Ordinal))
        {
            return Anthropic;
        }
        if (path.StartsWith("/v1/models", StringComparison.Ordinal) &&
            (request.Headers.ContainsKey("x-api-key") || request.Headers.ContainsKey("anthropic-version")))
        {
            return Anthropic;
        }
        return OpenAI;
    }

    /// <summary>
    /// Writes a JSON response; with <paramref name="resetMidBody"/> only the first half of it, then the connection is
    /// cut (the <c>midBody</c> HTTP fault).
    /// </summary>
    /// <remarks>
    /// A cut answer declares its full length: Kestrel ends a response shorter than its <c>Content-Length</c> by closing
    /// the connection once what was written has gone out, so the client reads all of it, then an unexpected end of the
    /// body. An abort instead sends a reset, which can make the client's TCP stack drop what it has received but not
    /// read yet (the headers included).
    /// </remarks>
    public static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> write, bool resetMidBody = false)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        if (resetMidBody)
        {
            // See the remarks: the declared length is never reached and the connection closes.
            await context.Response.Body.WriteAsync(buffer.WrittenMemory[..(buffer.WrittenCount / 2)], context.RequestAborted);
            return;
        }
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>
    /// Writes a 200 <c>text/event-stream</c> of <paramref name="events"/>, each flushed as it is written; with
    /// <paramref name="resetMidBody"/> the connection is cut after the first half of them.
    /// </summary>
    public static async Task WriteEventsAsync(HttpContext context, IReadOnlyList<ServerSentEvent> events, bool resetMidBody = false)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        var count = events.Count;
        if (resetMidBody)
        {
            // As in WriteJsonAsync: the full length is declared, half the events are sent, and the connection closes.
            context.Response.ContentLength = events.Sum(e => (e.Name is null ? 0 : 8 + Encoding.UTF8.GetByteCount(e.Name)) + 8 + e.Data.Length);
            count = Math.Max(1, events.Count / 2);
        }
        var buffer = new ArrayBufferWriter<byte>(512);
        for (var i = 0; i < count; i++)
        {
            var e = events[i];
            buffer.ResetWrittenCount();
            if (e.Name is not null)
            {
                buffer.Write("event: "u8);
                Encoding.UTF8.GetBytes(e.Name, buffer);
                buffer.Write("\n"u8);
            }
            buffer.Write("data: "u8);
            buffer.Write(e.Data.Span);
            buffer.Write("\n\n"u8);
            await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    public static Task OpenAIErrorAsync(HttpContext context, int status, string message, string type = "invalid_request_error", string? param = null, string? code = null) =>
        WriteJsonAsync(context, status, w => WriteOpenAIError(w, message, type, param, code));

    public static void WriteOpenAIError(Utf8JsonWriter w, string message, string type, string? param, string? code)
    {
        w.WriteStartObject();
        w.WriteStartObject("error"u8);
        w.WriteString("message"u8, message);
        w.WriteString("type"u8, type);
        WriteStringOrNull(w, "param"u8, param);
        WriteStringOrNull(w, "code"u8, code);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static Task AnthropicErrorAsync(HttpContext context, int status, string type, string message)
    {
        var requestId = context.Response.Headers["request-id"].ToString();
        return WriteJsonAsync(context, status, w => WriteAnthropicError(w, type, message, requestId.Length > 0 ? requestId : null));
    }

    public static void WriteAnthropicError(Utf8JsonWriter w, string type, string message, string? requestId)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "error"u8);
        w.WriteStartObject("error"u8);
        w.WriteString("type"u8, type);
        w.WriteString("message"u8, message);
        w.WriteEndObject();
        WriteStringOrNull(w, "request_id"u8, requestId);
        w.WriteEndObject();
    }

    /// <summary>An error in the envelope of the request's provider, for a status both share.</summary>
    public static Task ErrorAsync(HttpContext context, int status, string message)
    {
        if (ProviderOf(context.Request) == Anthropic)
        {
            return AnthropicErrorAsync(context, status, AnthropicTypeFor(status), message);
        }
        return OpenAIErrorAsync(context, status, message, status >= 500 ? "server_error" : "invalid_request_error");
    }

    public static string AnthropicTypeFor(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    };

    public static void WriteStringOrNull(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    public static void WriteNumberOrNull(Utf8JsonWriter w, ReadOnlySpan<byte> name, long? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteNumber(name, value.Value);
        }
    }

    /// <summary>Reads a small JSON request body; null (and a 400 already written) when it is not JSON.</summary>
    public static async Task<JsonDocument?> ReadJsonBodyAsync(HttpContext context, long maxBytes = 64 * 1024 * 1024)
    {
        if (context.Request.ContentLength > maxBytes)
        {
            await ErrorAsync(context, 413, "Request body too large.");
            return null;
        }
        try
        {
            var doc = await JsonDocument.ParseAsync(context.Request.Body, ReadOptions, context.RequestAborted);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                await ErrorAsync(context, 400, "The request body must be a JSON object.");
                return null;
            }
            return doc;
        }
        catch (JsonException e)
        {
            var detail = $"line {(e.LineNumber ?? 0) + 1}, column {(e.BytePositionInLine ?? 0) + 1}";
            if (ProviderOf(context.Request) == Anthropic)
            {
                await AnthropicErrorAsync(context, 400, "invalid_request_error", $"There was an error parsing the body of your request: invalid JSON at {detail}.");
            }
            else
            {
                await OpenAIErrorAsync(context, 400, $"We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. Invalid JSON at {detail}.)");
            }
            return null;
        }
    }

    public static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
