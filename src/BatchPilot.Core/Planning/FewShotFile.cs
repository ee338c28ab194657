using System.Text.Json;
using BatchPilot.Errors;
using BatchPilot.Jobs;

namespace BatchPilot.Planning;

/// <summary>Reads few-shot examples: JSONL lines <c>{"input": "...", "output": "..."}</c>; blank lines are skipped.</summary>
public static class FewShotFile
{
    /// <summary>Reads the examples of a JSONL text.</summary>
    /// <param name="reader">The text.</param>
    /// <param name="fileName">The file as the user named it, for errors.</param>
    /// <param name="option">The option that named the file, for errors.</param>
    /// <exception cref="InputException">A line is not an object with string <c>input</c> and <c>output</c>.</exception>
    public static IReadOnlyList<FewShotExample> Read(TextReader reader, string fileName, string option = "--examples")
    {
        ArgumentNullException.ThrowIfNull(reader);
        var examples = new List<FewShotExample>();
        long line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            string? input = null;
            string? output = null;
            try
            {
                using var doc = JsonDocument.Parse(text);
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                {
                    input = doc.RootElement.TryGetProperty("input", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
                    output = doc.RootElement.TryGetProperty("output", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
                }
            }
            catch (JsonException ex)
            {
                throw new InputException($"the line is not valid JSON ({ex.Message})", ex, file: fileName, row: line, field: option,
                    hint: "write one {\"input\": \"...\", \"output\": \"...\"} object per line");
            }

            if (input is null || output is null)
            {
                throw new InputException("the line needs string fields \"input\" and \"output\"", file: fileName, row: line, field: option,
                    hint: "write one {\"input\": \"...\", \"output\": \"...\"} object per line");
            }

            examples.Add(new FewShotExample(input, output));
        }

        if (examples.Count == 0)
        {
            throw new InputException("the file holds no examples", file: fileName, field: option,
                hint: "write one {\"input\": \"...\", \"output\": \"...\"} object per line, or leave out " + option);
        }

        return examples;
    }
}
