using System.Text;
using System.Text.Json;
using BatchPilot.Emulator.Infrastructure;

namespace BatchPilot.Emulator.Answers;

/// <summary>
/// Structured-output answers: finds the schema a request asks for (OpenAI chat <c>response_format</c> json_schema,
/// Responses <c>text.format</c> json_schema, Anthropic forced tool <c>tool_choice: {type: tool}</c>) and writes
/// deterministic JSON that conforms to it (types, <c>enum</c>, <c>const</c>, <c>required</c>, nested objects and arrays
/// with <c>minItems</c>, numeric bounds, <c>anyOf</c>/<c>oneOf</c>, local <c>$ref</c>). With the <c>schema_violation</c>
/// item fault the answer breaks the schema instead (a required property is left out and an unknown one added).
/// </summary>
internal static class SchemaAnswers
{
    private const int MaxDepth = 12;

    /// <summary>The schema asked for, cloned out of the body, and for Anthropic the tool's name; null when none.</summary>
    public static (JsonElement Schema, string? ToolName)? Requested(JsonElement body, Responder.Shape shape)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        switch (shape)
        {
            case Responder.Shape.ChatCompletions:
                if (body.TryGetProperty("response_format", out var rf) && rf.ValueKind == JsonValueKind.Object && rf.TryGetProperty("type", out var t) && t.ValueEquals("json_schema"u8)
                    && rf.TryGetProperty("json_schema", out var js) && js.ValueKind == JsonValueKind.Object && js.TryGetProperty("schema", out var s))
                {
                    return (s.Clone(), null);
                }
                return null;
            case Responder.Shape.Responses:
                if (body.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.Object && text.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.Object
                    && f.TryGetProperty("type", out var ft) && ft.ValueEquals("json_schema"u8) && f.TryGetProperty("schema", out var fs))
                {
                    return (fs.Clone(), null);
                }
                return null;
            default:
                if (!body.TryGetProperty("tool_choice", out var tc) || tc.ValueKind != JsonValueKind.Object || !tc.TryGetProperty("type", out var tt) || !tt.ValueEquals("tool"u8)
                    || !tc.TryGetProperty("name", out var tn) || tn.ValueKind != JsonValueKind.String || !body.TryGetProperty("tools", out var tools) || tools.ValueKind != JsonValueKind.Array)
                {
                    return null;
                }
                foreach (var tool in tools.EnumerateArray())
                {
                    if (tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("name", out var name) && name.ValueEquals(tn.GetString()) && tool.TryGetProperty("input_schema", out var input))
                    {
                        return (input.Clone(), tn.GetString());
                    }
                }
                return null;
        }
    }

    /// <summary>The answer as compact JSON text: conforming, or breaking the schema when <paramref name="violate"/>.</summary>
    public static string Answer(JsonElement schema, string seedText, bool violate)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, Wire.WriterOptions))
        {
            var seed = StableHash.Of(seedText);
            if (violate)
            {
                WriteViolation(w, schema, schema, seed);
            }
            else
            {
                Write(w, schema, schema, seed, seedText, "answer", 0);
            }
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static JsonElement Resolve(JsonElement root, JsonElement schema)
    {
        for (var hops = 0; hops < 16 && schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("$ref", out var r) && r.ValueKind == JsonValueKind.String; hops++)
        {
            var target = root;
            var path = r.GetString()!;
            if (!path.StartsWith("#", StringComparison.Ordinal))
            {
                return schema;
            }
            foreach (var segment in path.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var key = segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(key, out target))
                {
                    return schema;
                }
            }
            schema = target;
        }
        return schema;
    }

    private static string? FirstType(JsonElement schema)
    {
        if (!schema.TryGetProperty("type", out var t))
        {
            return schema.TryGetProperty("properties", out _) ? "object" : schema.TryGetProperty("items", out _) ? "array" : null;
        }
        if (t.ValueKind == JsonValueKind.String)
        {
            return t.GetString();
        }
        if (t.ValueKind == JsonValueKind.Array)
        {
            string? first = null;
            foreach (var x in t.EnumerateArray())
            {
                if (x.ValueKind == JsonValueKind.String)
                {
                    var name = x.GetString()!;
                    if (name != "null")
                    {
                        return name;
                    }
                    first ??= name;
                }
            }
            return first;
        }
        return null;
    }

    private static void Write(Utf8JsonWriter w, JsonElement root, JsonElement schema, ulong seed, string seedText, string name, int depth)
    {
        schema = Resolve(root, schema);
        if (schema.ValueKind != JsonValueKind.Object || depth > MaxDepth)
        {
            w.WriteNullValue();
            return;
        }
        if (schema.TryGetProperty("const", out var constant))
        {
            constant.WriteTo(w);
            return;
        }
        if (schema.TryGetProperty("enum", out var options) && options.ValueKind == JsonValueKind.Array && options.GetArrayLength() > 0)
        {
            options[(int)(seed % (ulong)options.GetArrayLength())].WriteTo(w);
            return;
        }
        foreach (var keyword in new[] { "anyOf", "oneOf", "allOf" })
        {
            if (schema.TryGetProperty(keyword, out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0)
            {
                Write(w, root, list[0], seed, seedText, name, depth + 1);
                return;
            }
        }
        switch (FirstType(schema))
        {
            case "object":
                w.WriteStartObject();
                if (schema.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in props.EnumerateObject())
                    {
                        w.WritePropertyName(p.Name);
                        Write(w, root, p.Value, StableHash.Combine(seed, StableHash.Of(p.Name)), seedText, p.Name, depth + 1);
                    }
                }
                w.WriteEndObject();
                break;
            case "array":
                var count = schema.TryGetProperty("minItems", out var min) && min.TryGetInt32(out var n) ? Math.Clamp(n, 0, 10) : 1;
                if (count == 0 && !(schema.TryGetProperty("maxItems", out var max) && max.TryGetInt32(out var mx) && mx == 0))
                {
                    count = 1;
                }
                w.WriteStartArray();
                for (var i = 0; i < count; i++)
                {
                    if (schema.TryGetProperty("items", out var items))
                    {
                        Write(w, root, items, StableHash.Combine(seed, (ulong)i + 1), seedText, name, depth + 1);
                    }
                    else
                    {
                        w.WriteStringValue(name);
                    }
                }
                w.WriteEndArray();
                break;
            case "integer":
                w.WriteNumberValue((long)Math.Ceiling(Number(schema, seed)));
                break;
            case "number":
                w.WriteNumberValue(Number(schema, seed));
                break;
            case "boolean":
                w.WriteBooleanValue((seed & 1) == 0);
                break;
            case "null":
                w.WriteNullValue();
                break;
            default:
                var text = $"{name}: {(seedText.Length > 60 ? seedText[..60] : seedText)}";
                if (schema.TryGetProperty("maxLength", out var ml) && ml.TryGetInt32(out var maxLength) && text.Length > maxLength)
                {
                    text = text[..Math.Max(0, maxLength)];
                }
                w.WriteStringValue(text);
                break;
        }
    }

    private static double Number(JsonElement schema, ulong seed)
    {
        double? lo = schema.TryGetProperty("minimum", out var a) && a.TryGetDouble(out var av) ? av : null;
        double? hi = schema.TryGetProperty("maximum", out var b) && b.TryGetDouble(out var bv) ? bv : null;
        if (schema.TryGetProperty("exclusiveMinimum", out var ea) && ea.TryGetDouble(out var eav))
        {
            lo = eav + 1;
        }
        if (schema.TryGetProperty("exclusiveMaximum", out var eb) && eb.TryGetDouble(out var ebv))
        {
            hi = ebv - 1;
        }
        var low = lo ?? 1;
        var high = hi ?? low + 9;
        return high <= low ? low : low + Math.Floor((high - low) * StableHash.ToUnit(seed));
    }

    private static void WriteViolation(Utf8JsonWriter w, JsonElement root, JsonElement schema, ulong seed)
    {
        schema = Resolve(root, schema);
        w.WriteStartObject();
        string? dropped = null;
        if (schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("required", out var req) && req.ValueKind == JsonValueKind.Array && req.GetArrayLength() > 0)
        {
            dropped = req[0].GetString();
        }
        if (schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in props.EnumerateObject())
            {
                if (p.Name == dropped)
                {
                    continue;
                }
                w.WritePropertyName(p.Name);
                Write(w, root, p.Value, StableHash.Combine(seed, StableHash.Of(p.Name)), "", p.Name, 1);
            }
        }
        w.WriteBoolean("emulator_unexpected_field", true);
        w.WriteEndObject();
    }
}
