using System.Text;
using System.Text.Json;

namespace BatchPilot.Inputs.BatchFiles;

/// <summary>What one request of a batch file holds, read from its JSON text without building a document.</summary>
internal struct ParsedRequest
{
    /// <summary>The first top-level key that appears twice, if any.</summary>
    public string? DuplicateKey;

    /// <summary>The first top-level key the format does not know, if any.</summary>
    public string? UnknownKey;

    public JsonTokenType CustomIdToken;
    public string? CustomId;
    public JsonTokenType MethodToken;
    public string? Method;
    public JsonTokenType UrlToken;
    public string? Url;

    /// <summary>The token of the body (OpenAI <c>body</c>, Anthropic <c>params</c>); None when absent.</summary>
    public JsonTokenType BodyToken;

    /// <summary>Where the body's JSON text starts and how long it is, in bytes of the request.</summary>
    public int BodyStart;
    public int BodyLength;

    public JsonTokenType ModelToken;
    public string? Model;
    public JsonTokenType MaxTokensToken;
    public long? MaxTokens;
    public JsonTokenType MessagesToken;
    public bool Stream;
}

/// <summary>Reads the fields of one request (an OpenAI batch line or an Anthropic request) with <see cref="Utf8JsonReader"/>.</summary>
internal static class RequestParser
{
    /// <summary>Deep enough for any request body a provider accepts (the reader's default is 64).</summary>
    public static readonly JsonReaderOptions Options = new() { MaxDepth = 512 };

    /// <summary>Reads a request; its top-level value must be an object (else <paramref name="notObject"/> names what it is).</summary>
    /// <exception cref="JsonException">The text is not valid JSON, or has more after the object.</exception>
    public static ParsedRequest Parse(ReadOnlySpan<byte> json, bool anthropic, out string? notObject)
    {
        var r = new ParsedRequest();
        var reader = new Utf8JsonReader(json, Options);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            notObject = Describe(reader.TokenType);
            reader.Skip();
            reader.Read();
            return r;
        }

        notObject = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var bodyKey = anthropic ? "params" : "body";
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (!seen.Add(name))
            {
                r.DuplicateKey ??= name;
            }

            if (name == "custom_id")
            {
                r.CustomIdToken = reader.TokenType;
                r.CustomId = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (name == "method" && !anthropic)
            {
                r.MethodToken = reader.TokenType;
                r.Method = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (name == "url" && !anthropic)
            {
                r.UrlToken = reader.TokenType;
                r.Url = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (name == bodyKey)
            {
                r.BodyToken = reader.TokenType;
                r.BodyStart = (int)reader.TokenStartIndex;
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadBody(ref reader, ref r);
                }
                else
                {
                    reader.Skip();
                }

                r.BodyLength = (int)reader.BytesConsumed - r.BodyStart;
                continue;
            }
            else
            {
                r.UnknownKey ??= name;
            }

            reader.Skip();
        }

        // Anything after the object other than blanks makes Read throw.
        reader.Read();
        return r;
    }

    /// <summary>The body's own fields that the checks need; the reader ends on the body's closing brace.</summary>
    private static void ReadBody(ref Utf8JsonReader reader, ref ParsedRequest r)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                r.ModelToken = reader.TokenType;
                r.Model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("max_tokens"u8))
            {
                reader.Read();
                r.MaxTokensToken = reader.TokenType;
                r.MaxTokens = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n) ? n : null;
            }
            else if (reader.ValueTextEquals("messages"u8))
            {
                reader.Read();
                r.MessagesToken = reader.TokenType;
            }
            else if (reader.ValueTextEquals("stream"u8))
            {
                reader.Read();
                r.Stream = reader.TokenType == JsonTokenType.True;
            }
            else
            {
                reader.Read();
            }

            reader.Skip();
        }
    }

    /// <summary>A JSON token kind in words, for messages.</summary>
    public static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "missing",
    };

    /// <summary>The body's JSON text as it is in the file.</summary>
    public static string BodyText(ReadOnlySpan<byte> json, in ParsedRequest r) =>
        Encoding.UTF8.GetString(json.Slice(r.BodyStart, r.BodyLength));
}
