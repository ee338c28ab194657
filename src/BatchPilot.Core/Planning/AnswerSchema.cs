using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using BatchPilot.Errors;
using BatchPilot.Providers;
using Json.Schema;

namespace BatchPilot.Planning;

/// <summary>
/// The JSON schema of <c>--json-schema</c>: read and checked once (it must describe an object; for OpenAI also what
/// strict structured output requires), sent with every request, and used to validate every answer (JsonSchema.Net).
/// An answer that is not JSON or does not match fails its item with <see cref="ValidationFailedCode"/>, which
/// <c>resume</c> retries. Thread-safe.
/// </summary>
public sealed partial class AnswerSchema
{
    /// <summary>The error code of an answer that is not JSON or does not match the schema.</summary>
    public const string ValidationFailedCode = "schema_validation_failed";

    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly JsonSchema _schema;

    private AnswerSchema(string name, string json, JsonSchema schema, IReadOnlyList<string> properties)
    {
        Format = new ResponseFormat(name, json);
        _schema = schema;
        Properties = properties;
    }

    /// <summary>The name and compact text sent to the provider.</summary>
    public ResponseFormat Format { get; }

    /// <summary>The top-level property names in schema order (one export column each).</summary>
    public IReadOnlyList<string> Properties { get; }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex NameRegex();

    [GeneratedRegex("[^a-zA-Z0-9_-]+")]
    private static partial Regex NameCleanup();

    /// <summary>The schema name sent to the provider: the schema's <c>title</c> or the file name, reduced to letters, digits, <c>_</c> and <c>-</c>.</summary>
    public static string NameFor(string? title, string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        foreach (var candidate in new[] { title, Path.GetFileNameWithoutExtension(fileName) })
        {
            if (string.IsNullOrWhiteSpace(candidate))
            {
                continue;
            }

            var cleaned = NameCleanup().Replace(candidate.Trim(), "_").Trim('_');
            if (cleaned.Length > 64)
            {
                cleaned = cleaned[..64];
            }

            if (NameRegex().IsMatch(cleaned))
            {
                return cleaned;
            }
        }

        return "answer";
    }

    /// <summary>The schema of a job, or null when it has none.</summary>
    public static AnswerSchema? ForJob(Jobs.JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.JsonSchema is null ? null : Parse(spec.JsonSchema, spec.JsonSchemaName ?? "schema.json", spec.Provider, spec.JsonSchemaName);
    }

    /// <summary>Reads and checks a schema.</summary>
    /// <param name="text">The schema file's text.</param>
    /// <param name="fileName">The file as the user named it, for errors and the default name.</param>
    /// <param name="provider">The provider: OpenAI's strict mode needs <c>additionalProperties: false</c> and every property required on every object.</param>
    /// <param name="name">The name to use (a stored job's); derived from the title or file name when null.</param>
    /// <exception cref="InputException">Not JSON, not a schema of an object, or not usable in strict mode.</exception>
    public static AnswerSchema Parse(string text, string fileName, string provider, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        const string field = "--json-schema";
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new InputException($"the schema is not valid JSON ({ex.Message})", ex, file: fileName, row: ex.LineNumber + 1, field: field, hint: "write a JSON Schema object, e.g. {\"type\":\"object\",\"properties\":{...}}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !IsType(root, "object"))
            {
                throw new InputException("the schema must describe an object (\"type\": \"object\" at the top)", file: fileName, field: field,
                    hint: "wrap the answer in an object: {\"type\":\"object\",\"properties\":{\"answer\":{...}},\"required\":[\"answer\"],\"additionalProperties\":false}");
            }

            if (provider != ProviderNames.Anthropic && StrictProblem(root, "#") is { } problem)
            {
                throw new InputException("the schema cannot be used with OpenAI strict structured output: " + problem, file: fileName, field: field,
                    hint: "every object needs \"additionalProperties\": false and all its properties in \"required\" (make optional fields nullable, e.g. \"type\": [\"string\", \"null\"])");
            }

            JsonSchema schema;
            try
            {
                schema = JsonSchema.Build(root.Clone(), new BuildOptions { SchemaRegistry = new SchemaRegistry() }, new Uri("urn:batchpilot:schema:" + Guid.NewGuid().ToString("N")));
            }
            catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or FormatException or RefResolutionException)
            {
                throw new InputException($"the schema is not a valid JSON Schema ({ex.Message})", ex, file: fileName, field: field, hint: "check the keywords against https://json-schema.org");
            }

            var properties = new List<string>();
            if (root.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
            {
                properties.AddRange(props.EnumerateObject().Select(p => p.Name));
            }

            var title = root.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            return new AnswerSchema(name ?? NameFor(title, fileName), CompactJson(root), schema, properties);
        }
    }

    private static bool IsType(JsonElement schema, string type)
    {
        if (!schema.TryGetProperty("type", out var t))
        {
            return false;
        }

        return t.ValueKind == JsonValueKind.String
            ? t.ValueEquals(type)
            : t.ValueKind == JsonValueKind.Array && t.EnumerateArray().Any(x => x.ValueKind == JsonValueKind.String && x.ValueEquals(type));
    }

    /// <summary>The first rule of OpenAI's strict mode that a (sub)schema breaks, or null.</summary>
    private static string? StrictProblem(JsonElement schema, string path)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (IsType(schema, "object") || schema.TryGetProperty("properties", out _))
        {
            if (!schema.TryGetProperty("additionalProperties", out var ap) || ap.ValueKind != JsonValueKind.False)
            {
                return $"the object at '{path}' must set \"additionalProperties\": false";
            }

            var required = schema.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.Array
                ? r.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToHashSet(StringComparer.Ordinal)
                : [];
            if (schema.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in props.EnumerateObject())
                {
                    if (!required.Contains(p.Name))
                    {
                        return $"the property '{p.Name}' of the object at '{path}' must be listed in \"required\"";
                    }

                    if (StrictProblem(p.Value, path + "/properties/" + p.Name) is { } inner)
                    {
                        return inner;
                    }
                }
            }
        }

        foreach (var keyword in new[] { "items", "additionalItems" })
        {
            if (schema.TryGetProperty(keyword, out var sub) && StrictProblem(sub, path + "/" + keyword) is { } inner)
            {
                return inner;
            }
        }

        foreach (var keyword in new[] { "anyOf", "allOf", "oneOf", "prefixItems" })
        {
            if (schema.TryGetProperty(keyword, out var list) && list.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var sub in list.EnumerateArray())
                {
                    if (StrictProblem(sub, $"{path}/{keyword}/{i++}") is { } inner)
                    {
                        return inner;
                    }
                }
            }
        }

        foreach (var keyword in new[] { "$defs", "definitions" })
        {
            if (schema.TryGetProperty(keyword, out var defs) && defs.ValueKind == JsonValueKind.Object)
            {
                foreach (var d in defs.EnumerateObject())
                {
                    if (StrictProblem(d.Value, $"{path}/{keyword}/{d.Name}") is { } inner)
                    {
                        return inner;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>A JSON value as compact text, non-ASCII kept readable.</summary>
    public static string CompactJson(JsonElement value)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, Compact))
        {
            value.WriteTo(w);
        }

        return Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }

    /// <summary>Validates an answer; null when it matches, else one readable sentence.</summary>
    public string? Validate(string? answer)
    {
        if (string.IsNullOrWhiteSpace(answer))
        {
            return "the answer is empty, not JSON matching the schema";
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(answer);
        }
        catch (JsonException ex)
        {
            return "the answer is not valid JSON: " + ex.Message;
        }

        using (doc)
        {
            EvaluationResults results;
            try
            {
                results = _schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            }
            catch (Exception ex) when (ex is JsonSchemaException or RefResolutionException or InvalidOperationException)
            {
                // A schema that only fails at evaluation (e.g. a $ref to a document that is not there).
                return "the answer could not be checked against the schema: " + ex.Message;
            }

            if (results.IsValid)
            {
                return null;
            }

            var errors = new List<string>();
            foreach (var detail in results.Details ?? [])
            {
                if (detail.Errors is null)
                {
                    continue;
                }

                foreach (var (_, message) in detail.Errors)
                {
                    var at = detail.InstanceLocation.ToString();
                    errors.Add($"{(string.IsNullOrEmpty(at) ? "the answer" : at)}: {message}");
                }
            }

            if (results.Errors is { } top)
            {
                errors.AddRange(top.Select(e => "the answer: " + e.Value));
            }

            var distinct = errors.Distinct(StringComparer.Ordinal).ToList();
            return "the answer does not match the schema: "
                + (distinct.Count == 0 ? "no detail given" : string.Join("; ", distinct.Take(5)) + (distinct.Count > 5 ? $" (and {distinct.Count - 5} more)" : string.Empty));
        }
    }

    /// <summary>A succeeded result whose answer does not match becomes a failure with <see cref="ValidationFailedCode"/>; others pass unchanged.</summary>
    public ResultLine Check(ResultLine line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.Kind != ResultKind.Succeeded || Validate(line.Text) is not { } problem)
        {
            return line;
        }

        return line with { Kind = ResultKind.Failed, ErrorCode = ValidationFailedCode, ErrorMessage = problem };
    }
}
