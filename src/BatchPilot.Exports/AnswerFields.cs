using System.Globalization;
using System.Text;
using System.Text.Json;
using BatchPilot.Jobs;
using BatchPilot.Planning;

namespace BatchPilot.Exports;

/// <summary>
/// The answers of a job with a <c>--json-schema</c>, spread out: one value per top-level schema property (strings as
/// they are, numbers and booleans as JSON text, nested objects and arrays as compact JSON, null as empty), the parsed
/// answer for JSONL, a field table for Markdown and Word, and the fields the dashboard shows per item.
/// </summary>
public sealed class AnswerFields
{
    private AnswerFields(IReadOnlyList<string> properties) => Properties = properties;

    /// <summary>The top-level properties in schema order.</summary>
    public IReadOnlyList<string> Properties { get; }

    /// <summary>The fields of a job's schema, or null when the job has no schema (or one without properties).</summary>
    public static AnswerFields? ForJob(JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var schema = AnswerSchema.ForJob(job.Spec);
        return schema is { Properties.Count: > 0 } ? new AnswerFields(schema.Properties) : null;
    }

    /// <summary>Column names for the properties that clash with none of <paramref name="taken"/> (<c>_2</c>, <c>_3</c>… appended otherwise); the names are added to it.</summary>
    public IReadOnlyList<string> ColumnNames(ISet<string> taken)
    {
        ArgumentNullException.ThrowIfNull(taken);
        return JobExporter.FreeNames(taken, Properties);
    }

    /// <summary>One cell per property; all empty when the answer is not a JSON object.</summary>
    public string?[] Values(string? answer)
    {
        var values = new string?[Properties.Count];
        if (Parse(answer) is not { } doc)
        {
            return values;
        }

        using (doc)
        {
            for (var i = 0; i < Properties.Count; i++)
            {
                if (doc.RootElement.TryGetProperty(Properties[i], out var v))
                {
                    values[i] = Cell(v);
                }
            }
        }

        return values;
    }

    /// <summary>The answer parsed, when it is a JSON object; the caller disposes it.</summary>
    public static JsonDocument? Parse(string? answer)
    {
        if (string.IsNullOrWhiteSpace(answer))
        {
            return null;
        }

        try
        {
            var doc = JsonDocument.Parse(answer);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                return doc;
            }

            doc.Dispose();
        }
        catch (JsonException)
        {
        }

        return null;
    }

    private static string? Cell(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.Object or JsonValueKind.Array => AnswerSchema.CompactJson(v),
        _ => v.GetRawText(),
    };

    /// <summary>The answer as a Markdown table of its fields (field | value), or null when it is not a JSON object.</summary>
    public string? Markdown(string? answer)
    {
        if (Parse(answer) is not { } doc)
        {
            return null;
        }

        using (doc)
        {
            var sb = new StringBuilder();
            sb.Append("| Field | Value |\n|---|---|\n");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                sb.Append("| ").Append(TableCell(p.Name)).Append(" | ").Append(TableCell(Cell(p.Value) ?? string.Empty)).Append(" |\n");
            }

            return sb.ToString();
        }
    }

    private static string TableCell(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal)
            .Replace("\r\n", "<br>", StringComparison.Ordinal).Replace("\n", "<br>", StringComparison.Ordinal);
}
