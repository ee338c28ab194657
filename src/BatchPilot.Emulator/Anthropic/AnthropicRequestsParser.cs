using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using BatchPilot.Emulator.Infrastructure;

namespace BatchPilot.Emulator.Anthropic;

/// <summary>
/// Stream-parses a <c>{"requests":[…]}</c> body of up to 256 MB without holding it in memory:
/// a chunked <see cref="Utf8JsonReader"/> skips over each array element, validates it alone and
/// writes it as one compact JSONL line to the spool file. Memory is one buffer the size of the
/// largest element (at least 1 MB) plus the set of custom ids.
/// </summary>
internal sealed partial class AnthropicRequestsParser : IDisposable
{
    public const int MaxRequests = 100_000;
    public const long MaxBodyBytes = 256L * 1024 * 1024;

    private readonly JsonlWriter _out;
    private readonly StreamWriter _ids;
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private Phase _phase;
    private bool _sawRequests;

    private enum Phase
    {
        Start,
        RootProperties,
        InArray,
        Done,
    }

    private AnthropicRequestsParser(string requestsPath, string idsPath)
    {
        _out = new JsonlWriter(requestsPath);
        _ids = new StreamWriter(idsPath, false, new UTF8Encoding(false), 1 << 16);
    }

    public int Count { get; private set; }

    public string? Error { get; private set; }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex CustomIdPattern();

    /// <summary>Parses the body; returns (count, null, 200) or (_, message, HTTP status) on the first problem.</summary>
    public static async Task<(int Count, string? Error, int Status)> ParseAsync(Stream body, string requestsPath, string idsPath, CancellationToken cancellationToken)
    {
        using var parser = new AnthropicRequestsParser(requestsPath, idsPath);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            var filled = 0;
            var final = false;
            long total = 0;
            var state = new JsonReaderState(new JsonReaderOptions { MaxDepth = 256 });
            while (true)
            {
                if (!final)
                {
                    if (filled == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        Buffer.BlockCopy(buffer, 0, bigger, 0, filled);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    var n = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken);
                    total += n;
                    if (total > MaxBodyBytes)
                    {
                        return (0, $"Request exceeds the maximum size of {MaxBodyBytes} bytes for a message batch.", 413);
                    }
                    final = n == 0;
                    filled += n;
                }
                var consumed = parser.Process(buffer.AsSpan(0, filled), final, ref state);
                if (parser.Error is not null)
                {
                    return (parser.Count, parser.Error, 400);
                }
                Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                filled -= consumed;
                if (parser._phase == Phase.Done)
                {
                    break;
                }
                if (final)
                {
                    return (parser.Count, "There was an error parsing the body of your request: unexpected end of JSON.", 400);
                }
            }
            if (!parser._sawRequests)
            {
                return (0, "requests: Field required", 400);
            }
            if (parser.Count == 0)
            {
                return (0, "requests: List should have at least 1 item after validation, not 0", 400);
            }
            return (parser.Count, null, 200);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private int Process(ReadOnlySpan<byte> data, bool final, ref JsonReaderState state)
    {
        var reader = new Utf8JsonReader(data, final, state);
        var safe = 0;
        var safeState = state;
        try
        {
            while (_phase != Phase.Done && Error is null)
            {
                if (!reader.Read())
                {
                    break;
                }
                switch (_phase)
                {
                    case Phase.Start:
                        if (reader.TokenType != JsonTokenType.StartObject)
                        {
                            Error = "The request body must be a JSON object.";
                            break;
                        }
                        _phase = Phase.RootProperties;
                        break;
                    case Phase.RootProperties:
                        if (reader.TokenType == JsonTokenType.EndObject)
                        {
                            _phase = Phase.Done;
                            break;
                        }
                        var isRequests = reader.ValueTextEquals("requests"u8);
                        if (!reader.Read())
                        {
                            goto Incomplete;
                        }
                        if (isRequests)
                        {
                            if (reader.TokenType != JsonTokenType.StartArray)
                            {
                                Error = "requests: Input should be a valid list";
                                break;
                            }
                            _sawRequests = true;
                            _phase = Phase.InArray;
                        }
                        else if (!reader.TrySkip())
                        {
                            goto Incomplete;
                        }
                        break;
                    case Phase.InArray:
                        if (reader.TokenType == JsonTokenType.EndArray)
                        {
                            _phase = Phase.RootProperties;
                            break;
                        }
                        if (reader.TokenType != JsonTokenType.StartObject)
                        {
                            Error = $"requests.{Count}: Input should be a valid dictionary";
                            break;
                        }
                        var start = (int)reader.TokenStartIndex;
                        if (!reader.TrySkip())
                        {
                            goto Incomplete;
                        }
                        HandleElement(data[start..(int)reader.BytesConsumed]);
                        break;
                }
                safe = (int)reader.BytesConsumed;
                safeState = reader.CurrentState;
            }
        }
        catch (JsonException e)
        {
            Error = $"There was an error parsing the body of your request: {e.Message}";
        }
    Incomplete:
        state = safeState;
        return safe;
    }

    private void HandleElement(ReadOnlySpan<byte> element)
    {
        var index = Count;
        if (index >= MaxRequests)
        {
            Error = $"requests: List should have at most {MaxRequests} items after validation, not {index + 1}";
            return;
        }
        var reader = new Utf8JsonReader(element);
        using var doc = JsonDocument.ParseValue(ref reader);
        var root = doc.RootElement;
        if (!root.TryGetProperty("custom_id", out var idElement))
        {
            Error = $"requests.{index}.custom_id: Field required";
            return;
        }
        if (idElement.ValueKind != JsonValueKind.String)
        {
            Error = $"requests.{index}.custom_id: Input should be a valid string";
            return;
        }
        var customId = idElement.GetString()!;
        if (customId.Length > 64)
        {
            Error = $"requests.{index}.custom_id: String should have at most 64 characters";
            return;
        }
        if (customId.Length == 0)
        {
            Error = $"requests.{index}.custom_id: String should have at least 1 character";
            return;
        }
        if (!CustomIdPattern().IsMatch(customId))
        {
            Error = $"requests.{index}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'";
            return;
        }
        if (!_seen.Add(customId))
        {
            Error = $"requests.{index}.custom_id: Duplicate custom_id '{customId}'. The custom_id of each request in a batch must be unique.";
            return;
        }
        if (!root.TryGetProperty("params", out var p))
        {
            Error = $"requests.{index}.params: Field required";
            return;
        }
        if (p.ValueKind != JsonValueKind.Object)
        {
            Error = $"requests.{index}.params: Input should be a valid dictionary";
            return;
        }
        if (SyncApi.AnthropicParamsProblem(p, requireMaxTokens: true) is { } problem)
        {
            Error = $"requests.{index}.params.{problem}";
            return;
        }
        if (p.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            Error = $"requests.{index}.params.stream: Streaming is not supported in the Message Batches API";
            return;
        }
        var w = _out.Writer;
        w.WriteStartObject();
        w.WriteString("custom_id"u8, customId);
        w.WritePropertyName("params"u8);
        p.WriteTo(w);
        w.WriteEndObject();
        _out.EndLine();
        _ids.Write(customId);
        _ids.Write('\n');
        Count++;
    }

    public void Dispose()
    {
        _out.Dispose();
        _ids.Dispose();
    }
}
