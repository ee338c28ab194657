using System.Buffers;
using System.Text.Json;
using BatchPilot.Emulator.Infrastructure;

namespace BatchPilot.Emulator.Answers;

/// <summary>
/// The <c>stream: true</c> forms of the three answers, event for event as the providers send them. The text
/// (or tool input) is the non-streamed answer's, cut into a few deltas; ids, model, timestamps and usage are the same.
/// </summary>
internal static class StreamedAnswers
{
    /// <summary>How many deltas an answer is cut into (about; cuts fall after a space where one is near).</summary>
    private const int Deltas = 4;

    /// <summary>Chat completions: <c>chat.completion.chunk</c> events, then <c>[DONE]</c>.</summary>
    public static List<ServerSentEvent> ChatCompletion(string id, long created, Prompt p, JsonElement body)
    {
        // With stream_options.include_usage every chunk carries "usage": null and a last chunk has no choices and the usage.
        var includeUsage = body.TryGetProperty("stream_options", out var options) && options.ValueKind == JsonValueKind.Object &&
            options.TryGetProperty("include_usage", out var include) && include.ValueKind == JsonValueKind.True;
        var events = new List<ServerSentEvent>();
        void Chunk(Action<Utf8JsonWriter>? delta, string? finishReason, bool usage = false) => events.Add(Json(null, w =>
        {
            w.WriteStartObject();
            w.WriteString("id"u8, id);
            w.WriteString("object"u8, "chat.completion.chunk"u8);
            w.WriteNumber("created"u8, created);
            w.WriteString("model"u8, p.Model);
            w.WriteString("service_tier"u8, "default"u8);
            w.WriteString("system_fingerprint"u8, "fp_emulator"u8);
            w.WriteStartArray("choices"u8);
            if (delta is not null)
            {
                w.WriteStartObject();
                w.WriteNumber("index"u8, 0);
                w.WriteStartObject("delta"u8);
                delta(w);
                w.WriteEndObject();
                w.WriteNull("logprobs"u8);
                Wire.WriteStringOrNull(w, "finish_reason"u8, finishReason);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (usage)
            {
                Responder.WriteChatUsage(w, p);
            }
            else if (includeUsage)
            {
                w.WriteNull("usage"u8);
            }
            w.WriteEndObject();
        }));

        Chunk(w =>
        {
            w.WriteString("role"u8, "assistant"u8);
            w.WriteString("content"u8, ""u8);
            w.WriteNull("refusal"u8);
        }, null);
        foreach (var piece in Pieces(p.Reply))
        {
            Chunk(w => w.WriteString("content"u8, piece), null);
        }
        Chunk(_ => { }, "stop");
        if (includeUsage)
        {
            Chunk(null, null, usage: true);
        }
        events.Add(new ServerSentEvent(null, "[DONE]"u8.ToArray()));
        return events;
    }

    /// <summary>
    /// Anthropic messages: <c>message_start</c>, <c>content_block_start</c>, <c>ping</c>, <c>content_block_delta</c>s
    /// (<c>text_delta</c>, or <c>input_json_delta</c> for a forced tool), <c>content_block_stop</c>, <c>message_delta</c>,
    /// <c>message_stop</c>.
    /// </summary>
    public static List<ServerSentEvent> Message(string id, Prompt p)
    {
        var events = new List<ServerSentEvent>();
        void Add(string name, Action<Utf8JsonWriter> fields) => events.Add(Json(name, w =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, name);
            fields(w);
            w.WriteEndObject();
        }));

        Add("message_start", w =>
        {
            w.WritePropertyName("message"u8);
            Responder.WriteMessage(w, id, p, "standard", started: true);
        });
        Add("content_block_start", w =>
        {
            w.WriteNumber("index"u8, 0);
            w.WritePropertyName("content_block"u8);
            Responder.WriteContentBlock(w, id, p, empty: true);
        });
        var tool = p.ToolName is not null;
        void Delta(string piece) => Add("content_block_delta", w =>
        {
            w.WriteNumber("index"u8, 0);
            w.WriteStartObject("delta"u8);
            if (tool)
            {
                w.WriteString("type"u8, "input_json_delta"u8);
                w.WriteString("partial_json"u8, piece);
            }
            else
            {
                w.WriteString("type"u8, "text_delta"u8);
                w.WriteString("text"u8, piece);
            }
            w.WriteEndObject();
        });
        if (tool)
        {
            // The API opens a tool's input with an empty partial_json before the ping.
            Delta("");
        }
        Add("ping", _ => { });
        foreach (var piece in Pieces(p.Reply))
        {
            Delta(piece);
        }
        Add("content_block_stop", w => w.WriteNumber("index"u8, 0));
        Add("message_delta", w =>
        {
            w.WriteStartObject("delta"u8);
            w.WriteString("stop_reason"u8, Responder.StopReason(p));
            w.WriteNull("stop_sequence"u8);
            w.WriteNull("stop_details"u8);
            w.WriteNull("container"u8);
            w.WriteEndObject();
            w.WriteStartObject("usage"u8);
            w.WriteNumber("input_tokens"u8, p.InputTokens);
            w.WriteNumber("cache_creation_input_tokens"u8, 0);
            w.WriteNumber("cache_read_input_tokens"u8, 0);
            w.WriteNumber("output_tokens"u8, p.OutputTokens);
            w.WriteNull("output_tokens_details"u8);
            w.WriteNull("server_tool_use"u8);
            w.WriteEndObject();
        });
        Add("message_stop", _ => { });
        return events;
    }

    /// <summary>
    /// Responses API: <c>response.created</c>, <c>response.in_progress</c>, the output item and content part opened,
    /// <c>response.output_text.delta</c>s, everything closed again, <c>response.completed</c>; each with its
    /// <c>sequence_number</c>.
    /// </summary>
    public static List<ServerSentEvent> Response(string id, string messageId, long created, Prompt p, JsonElement body)
    {
        var events = new List<ServerSentEvent>();
        void Add(string name, Action<Utf8JsonWriter> fields)
        {
            var sequence = events.Count;
            events.Add(Json(name, w =>
            {
                w.WriteStartObject();
                w.WriteString("type"u8, name);
                fields(w);
                w.WriteNumber("sequence_number"u8, sequence);
                w.WriteEndObject();
            }));
        }
        void Position(Utf8JsonWriter w, bool content)
        {
            w.WriteString("item_id"u8, messageId);
            w.WriteNumber("output_index"u8, 0);
            if (content)
            {
                w.WriteNumber("content_index"u8, 0);
            }
        }

        Add("response.created", w =>
        {
            w.WritePropertyName("response"u8);
            Responder.WriteResponse(w, id, messageId, created, p, body, inProgress: true);
        });
        Add("response.in_progress", w =>
        {
            w.WritePropertyName("response"u8);
            Responder.WriteResponse(w, id, messageId, created, p, body, inProgress: true);
        });
        Add("response.output_item.added", w =>
        {
            w.WriteNumber("output_index"u8, 0);
            w.WritePropertyName("item"u8);
            Responder.WriteResponseMessage(w, messageId, p, done: false);
        });
        Add("response.content_part.added", w =>
        {
            Position(w, content: true);
            w.WritePropertyName("part"u8);
            Responder.WriteOutputText(w, "");
        });
        foreach (var piece in Pieces(p.Reply))
        {
            Add("response.output_text.delta", w =>
            {
                Position(w, content: true);
                w.WriteString("delta"u8, piece);
                w.WriteStartArray("logprobs"u8);
                w.WriteEndArray();
            });
        }
        Add("response.output_text.done", w =>
        {
            Position(w, content: true);
            w.WriteString("text"u8, p.Reply);
            w.WriteStartArray("logprobs"u8);
            w.WriteEndArray();
        });
        Add("response.content_part.done", w =>
        {
            Position(w, content: true);
            w.WritePropertyName("part"u8);
            Responder.WriteOutputText(w, p.Reply);
        });
        Add("response.output_item.done", w =>
        {
            w.WriteNumber("output_index"u8, 0);
            w.WritePropertyName("item"u8);
            Responder.WriteResponseMessage(w, messageId, p, done: true);
        });
        Add("response.completed", w =>
        {
            w.WritePropertyName("response"u8);
            Responder.WriteResponse(w, id, messageId, created, p, body);
        });
        return events;
    }

    /// <summary>
    /// Cuts <paramref name="text"/> into about <see cref="Deltas"/> pieces that join back to it: each cut falls after
    /// the last space before the even cut point, else after the next space not too far after it, and never inside a
    /// surrogate pair.
    /// </summary>
    public static List<string> Pieces(string text)
    {
        var pieces = new List<string>();
        var size = Math.Max(1, (text.Length + Deltas - 1) / Deltas);
        var start = 0;
        while (start < text.Length)
        {
            var end = Math.Min(text.Length, start + size);
            if (end < text.Length)
            {
                var back = text.LastIndexOf(' ', end - 1, end - start);
                var ahead = text.IndexOf(' ', end, Math.Min(size, text.Length - end));
                if (back > start)
                {
                    end = back + 1;
                }
                else if (ahead >= 0)
                {
                    end = ahead + 1;
                }
                else if (char.IsHighSurrogate(text[end - 1]))
                {
                    end++;
                }
            }
            pieces.Add(text[start..end]);
            start = end;
        }
        return pieces;
    }

    private static ServerSentEvent Json(string? name, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, Wire.WriterOptions))
        {
            write(writer);
        }
        return new ServerSentEvent(name, buffer.WrittenMemory);
    }
}
