using System.Text;
using System.Text.Json;
using BatchPilot.Emulator.Infrastructure;

namespace BatchPilot.Emulator.Answers;

/// <summary>The deterministic answer to one request.</summary>
internal sealed class Prompt
{
    public const string AnswerPrefix = "Emulated answer to: ";

    /// <summary>Input tokens counted per image (whatever its size).</summary>
    public const int TokensPerImage = 255;

    public Prompt(string model, string lastUserText, int promptChars, int messageCount, IReadOnlyList<SeenImage>? images = null, ImageError? imageError = null, string? structured = null, string? toolName = null)
    {
        Model = model;
        LastUserText = lastUserText;
        Images = images ?? [];
        ImageError = imageError;
        ToolName = toolName;
        IsStructured = structured is not null;
        Reply = structured ?? AnswerPrefix + lastUserText + Vision.Describe(Images);
        // About one token per four characters plus a little framing per message; at least 1.
        InputTokens = Math.Max(1, (promptChars + 3) / 4 + 3 * messageCount + 3 + TokensPerImage * Images.Count);
        OutputTokens = Math.Max(1, (Reply.Length + 3) / 4);
    }

    /// <summary>The images of the last user message.</summary>
    public IReadOnlyList<SeenImage> Images { get; }

    /// <summary>The first image problem of the request (the real API answers 400), or null.</summary>
    public ImageError? ImageError { get; }

    /// <summary>Anthropic: the forced tool whose input carries the structured answer, or null.</summary>
    public string? ToolName { get; }

    /// <summary>True when <see cref="Reply"/> is JSON generated from the requested schema.</summary>
    public bool IsStructured { get; }

    public string Model { get; }

    public string LastUserText { get; }

    /// <summary>The reply: the last user message, verbatim, after a fixed prefix.</summary>
    public string Reply { get; }

    public int InputTokens { get; }

    public int OutputTokens { get; }
}

/// <summary>Builds deterministic answers from request bodies of the three supported shapes.</summary>
internal static class Responder
{
    public enum Shape
    {
        ChatCompletions,
        Responses,
        AnthropicMessages,
    }

    public static Shape? ShapeOf(string endpoint) => endpoint switch
    {
        "/v1/chat/completions" => Shape.ChatCompletions,
        "/v1/responses" => Shape.Responses,
        _ => null,
    };

    /// <summary>
    /// Reads the prompt out of a request body; never throws on odd shapes (missing parts count as empty). Images are
    /// checked (see <see cref="Prompt.ImageError"/>); a requested schema is answered with conforming JSON, or with JSON
    /// that breaks it when <paramref name="violateSchema"/>. <paramref name="deployment"/> (Azure) names the model
    /// whatever the body says.
    /// </summary>
    public static Prompt Read(JsonElement body, Shape shape, bool violateSchema = false, string? deployment = null)
    {
        var basic = ReadPlain(body, shape, deployment);
        var (images, error) = Vision.Inspect(body, shape);
        string? structured = null;
        string? tool = null;
        if (SchemaAnswers.Requested(body, shape) is { } requested)
        {
            structured = SchemaAnswers.Answer(requested.Schema, basic.LastUserText + Vision.Describe(images), violateSchema);
            tool = requested.ToolName;
        }
        return new Prompt(basic.Model, basic.LastUserText, basic.PromptChars, basic.MessageCount, images, error, structured, tool);
    }

    /// <summary>The last user message's text alone (cheap: no image checks, no schema answer).</summary>
    public static string LastUserText(JsonElement body, Shape shape) => ReadPlain(body, shape, null).LastUserText;

    private sealed record Plain(string Model, string LastUserText, int PromptChars, int MessageCount);

    private static Plain ReadPlain(JsonElement body, Shape shape, string? deployment)
    {
        var model = deployment ?? (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "unknown-model");
        var chars = 0;
        var count = 0;
        string last = "";
        if (body.ValueKind != JsonValueKind.Object)
        {
            return new Plain(model, last, 0, 0);
        }
        switch (shape)
        {
            case Shape.ChatCompletions:
            case Shape.AnthropicMessages:
                if (body.TryGetProperty("system", out var system))
                {
                    chars += TextOf(system).Length;
                    count++;
                }
                if (body.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
                {
                    foreach (var message in messages.EnumerateArray())
                    {
                        if (message.ValueKind != JsonValueKind.Object)
                        {
                            continue;
                        }
                        count++;
                        var text = message.TryGetProperty("content", out var content) ? TextOf(content) : "";
                        chars += text.Length;
                        if (message.TryGetProperty("role", out var role) && role.ValueEquals("user"u8))
                        {
                            last = text;
                        }
                    }
                }
                break;
            case Shape.Responses:
                if (body.TryGetProperty("instructions", out var instructions))
                {
                    chars += TextOf(instructions).Length;
                    count++;
                }
                if (body.TryGetProperty("input", out var input))
                {
                    if (input.ValueKind == JsonValueKind.String)
                    {
                        last = input.GetString()!;
                        chars += last.Length;
                        count++;
                    }
                    else if (input.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var item in input.EnumerateArray())
                        {
                            if (item.ValueKind != JsonValueKind.Object)
                            {
                                continue;
                            }
                            count++;
                            var text = item.TryGetProperty("content", out var content) ? TextOf(content) : "";
                            chars += text.Length;
                            var isUser = !item.TryGetProperty("role", out var role) || role.ValueEquals("user"u8);
                            if (isUser && text.Length > 0)
                            {
                                last = text;
                            }
                        }
                    }
                }
                break;
        }
        return new Plain(model, last, chars, count);
    }

    /// <summary>Text of a content value: a string, or the <c>text</c> of every text part of an array, joined by newlines.</summary>
    private static string TextOf(JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return "";
        }
        StringBuilder? sb = null;
        string? single = null;
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
            {
                var value = text.GetString()!;
                if (single is null && sb is null)
                {
                    single = value;
                }
                else
                {
                    sb ??= new StringBuilder(single);
                    sb.Append('\n').Append(value);
                }
            }
        }
        return sb?.ToString() ?? single ?? "";
    }

    /// <summary>A <c>chat.completion</c> object.</summary>
    public static void WriteChatCompletion(Utf8JsonWriter w, string id, long created, Prompt p)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, id);
        w.WriteString("object"u8, "chat.completion"u8);
        w.WriteNumber("created"u8, created);
        w.WriteString("model"u8, p.Model);
        w.WriteStartArray("choices"u8);
        w.WriteStartObject();
        w.WriteNumber("index"u8, 0);
        w.WriteStartObject("message"u8);
        w.WriteString("role"u8, "assistant"u8);
        w.WriteString("content"u8, p.Reply);
        w.WriteNull("refusal"u8);
        w.WriteStartArray("annotations"u8);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteNull("logprobs"u8);
        w.WriteString("finish_reason"u8, "stop"u8);
        w.WriteEndObject();
        w.WriteEndArray();
        WriteChatUsage(w, p);
        w.WriteString("service_tier"u8, "default"u8);
        w.WriteString("system_fingerprint"u8, "fp_emulator"u8);
        w.WriteEndObject();
    }

    /// <summary>The <c>usage</c> property of a chat completion (and of the last chunk of a stream asking for it).</summary>
    public static void WriteChatUsage(Utf8JsonWriter w, Prompt p)
    {
        w.WriteStartObject("usage"u8);
        w.WriteNumber("prompt_tokens"u8, p.InputTokens);
        w.WriteNumber("completion_tokens"u8, p.OutputTokens);
        w.WriteNumber("total_tokens"u8, p.InputTokens + p.OutputTokens);
        w.WriteStartObject("prompt_tokens_details"u8);
        w.WriteNumber("cached_tokens"u8, 0);
        w.WriteNumber("audio_tokens"u8, 0);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details"u8);
        w.WriteNumber("reasoning_tokens"u8, 0);
        w.WriteNumber("audio_tokens"u8, 0);
        w.WriteNumber("accepted_prediction_tokens"u8, 0);
        w.WriteNumber("rejected_prediction_tokens"u8, 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// A <c>response</c> object (Responses API); <paramref name="inProgress"/> gives the one a stream starts with
    /// (status <c>in_progress</c>, no output, no usage).
    /// </summary>
    public static void WriteResponse(Utf8JsonWriter w, string id, string messageId, long created, Prompt p, JsonElement body, bool inProgress = false)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, id);
        w.WriteString("object"u8, "response"u8);
        w.WriteNumber("created_at"u8, created);
        w.WriteString("status"u8, inProgress ? "in_progress"u8 : "completed"u8);
        w.WriteBoolean("background"u8, false);
        Wire.WriteNumberOrNull(w, "completed_at"u8, inProgress ? null : created);
        w.WriteNull("error"u8);
        w.WriteNull("incomplete_details"u8);
        CopyOrNull(w, body, "instructions"u8, "instructions");
        CopyOrNull(w, body, "max_output_tokens"u8, "max_output_tokens");
        w.WriteString("model"u8, p.Model);
        w.WriteStartArray("output"u8);
        if (!inProgress)
        {
            WriteResponseMessage(w, messageId, p, done: true);
        }
        w.WriteEndArray();
        w.WriteBoolean("parallel_tool_calls"u8, true);
        w.WriteNull("previous_response_id"u8);
        w.WriteStartObject("reasoning"u8);
        w.WriteNull("effort"u8);
        w.WriteNull("summary"u8);
        w.WriteEndObject();
        w.WriteString("service_tier"u8, "default"u8);
        w.WriteBoolean("store"u8, !(body.ValueKind == JsonValueKind.Object && body.TryGetProperty("store", out var store) && store.ValueKind == JsonValueKind.False));
        w.WriteNumber("temperature"u8, 1.0);
        w.WriteStartObject("text"u8);
        w.WriteStartObject("format"u8);
        w.WriteString("type"u8, "text"u8);
        w.WriteEndObject();
        w.WriteString("verbosity"u8, "medium"u8);
        w.WriteEndObject();
        w.WriteString("tool_choice"u8, "auto"u8);
        w.WriteStartArray("tools"u8);
        w.WriteEndArray();
        w.WriteNumber("top_p"u8, 1.0);
        w.WriteString("truncation"u8, "disabled"u8);
        if (inProgress)
        {
            w.WriteNull("usage"u8);
        }
        else
        {
            WriteResponseUsage(w, p);
        }
        w.WriteNull("user"u8);
        w.WritePropertyName("metadata"u8);
        if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object)
        {
            metadata.WriteTo(w);
        }
        else
        {
            w.WriteStartObject();
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>The assistant <c>message</c> output item of a response; without its text while a stream has not finished it.</summary>
    public static void WriteResponseMessage(Utf8JsonWriter w, string messageId, Prompt p, bool done)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "message"u8);
        w.WriteString("id"u8, messageId);
        w.WriteString("status"u8, done ? "completed"u8 : "in_progress"u8);
        w.WriteString("role"u8, "assistant"u8);
        w.WriteStartArray("content"u8);
        if (done)
        {
            WriteOutputText(w, p.Reply);
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>An <c>output_text</c> content part.</summary>
    public static void WriteOutputText(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "output_text"u8);
        w.WriteStartArray("annotations"u8);
        w.WriteEndArray();
        w.WriteStartArray("logprobs"u8);
        w.WriteEndArray();
        w.WriteString("text"u8, text);
        w.WriteEndObject();
    }

    private static void WriteResponseUsage(Utf8JsonWriter w, Prompt p)
    {
        w.WriteStartObject("usage"u8);
        w.WriteNumber("input_tokens"u8, p.InputTokens);
        w.WriteStartObject("input_tokens_details"u8);
        w.WriteNumber("cached_tokens"u8, 0);
        w.WriteEndObject();
        w.WriteNumber("output_tokens"u8, p.OutputTokens);
        w.WriteStartObject("output_tokens_details"u8);
        w.WriteNumber("reasoning_tokens"u8, 0);
        w.WriteEndObject();
        w.WriteNumber("total_tokens"u8, p.InputTokens + p.OutputTokens);
        w.WriteEndObject();
    }

    /// <summary>
    /// An Anthropic <c>message</c> object; <paramref name="started"/> gives the one of a stream's <c>message_start</c>
    /// (no content, no stop reason, one output token so far).
    /// </summary>
    public static void WriteMessage(Utf8JsonWriter w, string id, Prompt p, string serviceTier, bool started = false)
    {
        // Nullable fields the SDKs declare as required are sent as null, as the API does.
        w.WriteStartObject();
        w.WriteString("model"u8, p.Model);
        w.WriteString("id"u8, id);
        w.WriteString("type"u8, "message"u8);
        w.WriteString("role"u8, "assistant"u8);
        w.WriteStartArray("content"u8);
        if (!started)
        {
            WriteContentBlock(w, id, p, empty: false);
        }
        w.WriteEndArray();
        w.WriteNull("container"u8);
        if (started)
        {
            w.WriteNull("stop_reason"u8);
        }
        else
        {
            w.WriteString("stop_reason"u8, StopReason(p));
        }
        w.WriteNull("stop_sequence"u8);
        w.WriteNull("stop_details"u8);
        w.WriteStartObject("usage"u8);
        w.WriteNumber("input_tokens"u8, p.InputTokens);
        w.WriteNumber("cache_creation_input_tokens"u8, 0);
        w.WriteNumber("cache_read_input_tokens"u8, 0);
        w.WriteStartObject("cache_creation"u8);
        w.WriteNumber("ephemeral_5m_input_tokens"u8, 0);
        w.WriteNumber("ephemeral_1h_input_tokens"u8, 0);
        w.WriteEndObject();
        w.WriteNumber("output_tokens"u8, started ? 1 : p.OutputTokens);
        w.WriteNull("output_tokens_details"u8);
        w.WriteNull("server_tool_use"u8);
        w.WriteString("service_tier"u8, serviceTier);
        w.WriteNull("inference_geo"u8);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The <c>stop_reason</c> of an Anthropic answer: <c>tool_use</c> for a forced tool, else <c>end_turn</c>.</summary>
    public static string StopReason(Prompt p) => p.ToolName is not null ? "tool_use" : "end_turn";

    /// <summary>
    /// The one content block of an Anthropic answer: the forced tool's call (its input is the answer) or the text;
    /// <paramref name="empty"/> gives the block a stream's <c>content_block_start</c> opens (empty text, <c>{}</c> input).
    /// </summary>
    public static void WriteContentBlock(Utf8JsonWriter w, string messageId, Prompt p, bool empty)
    {
        w.WriteStartObject();
        if (p.ToolName is not null)
        {
            w.WriteString("type"u8, "tool_use"u8);
            w.WriteString("id"u8, "toolu_01" + (messageId.Length > 6 ? messageId[6..] : messageId));
            w.WriteString("name"u8, p.ToolName);
            w.WritePropertyName("input"u8);
            w.WriteRawValue(empty ? "{}" : p.Reply, skipInputValidation: true);
        }
        else
        {
            w.WriteString("type"u8, "text"u8);
            w.WriteString("text"u8, empty ? "" : p.Reply);
            if (!empty)
            {
                // The API's content_block_start has no citations; the full block has them as null.
                w.WriteNull("citations"u8);
            }
        }
        w.WriteEndObject();
    }

    private static void CopyOrNull(Utf8JsonWriter w, JsonElement body, ReadOnlySpan<byte> name, string property)
    {
        w.WritePropertyName(name);
        if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty(property, out var value))
        {
            value.WriteTo(w);
        }
        else
        {
            w.WriteNullValue();
        }
    }
}
