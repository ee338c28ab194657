using System.Globalization;
using System.Text.Json;
using BatchPilot.Emulator.Infrastructure;
using BatchPilot.Emulator.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace BatchPilot.Emulator.OpenAI;

/// <summary><c>/v1/batches</c>.</summary>
internal sealed class OpenAIBatchesApi(EmulatorContext ctx, OpenAIBatchEngine engine)
{
    private static readonly string[] AllEndpoints =
        ["/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos"];

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/batches", CreateAsync);
        app.MapGet("/v1/batches", ListAsync);
        app.MapGet("/v1/batches/{id}", RetrieveAsync);
        app.MapPost("/v1/batches/{id}/cancel", CancelAsync);
    }

    private async Task CreateAsync(HttpContext http)
    {
        using var doc = await Wire.ReadJsonBodyAsync(http);
        if (doc is null)
        {
            return;
        }
        var body = doc.RootElement;
        string? Str(string name) => body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        foreach (var required in (ReadOnlySpan<string>)["input_file_id", "endpoint", "completion_window"])
        {
            if (Str(required) is null)
            {
                await Wire.OpenAIErrorAsync(http, 400, $"Missing required parameter: '{required}'.", param: required, code: "missing_required_parameter");
                return;
            }
        }
        var endpoint = Str("endpoint")!;
        if (!AllEndpoints.Contains(endpoint))
        {
            await Wire.OpenAIErrorAsync(http, 400, $"Invalid value: '{endpoint}'. Supported values are: {string.Join(", ", AllEndpoints.Select(e => $"'{e}'"))}.", param: "endpoint", code: "invalid_value");
            return;
        }
        if (!OpenAIBatchEngine.SupportedEndpoints.Contains(endpoint))
        {
            await Wire.OpenAIErrorAsync(http, 400, $"The emulator does not support the endpoint '{endpoint}'. Supported values are: '/v1/responses', '/v1/chat/completions'.", param: "endpoint", code: "invalid_value");
            return;
        }
        var window = Str("completion_window")!;
        if (window != "24h")
        {
            await Wire.OpenAIErrorAsync(http, 400, $"Invalid value: '{window}'. Supported values are: '24h'.", param: "completion_window", code: "invalid_value");
            return;
        }
        Dictionary<string, string>? metadata = null;
        if (body.TryGetProperty("metadata", out var md) && md.ValueKind != JsonValueKind.Null)
        {
            if (md.ValueKind != JsonValueKind.Object)
            {
                await Wire.OpenAIErrorAsync(http, 400, $"Invalid type for 'metadata': expected an object, but got {Kind(md)} instead.", param: "metadata", code: "invalid_type");
                return;
            }
            metadata = [];
            foreach (var p in md.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    await Wire.OpenAIErrorAsync(http, 400, $"Invalid type for 'metadata.{p.Name}': expected a string, but got {Kind(p.Value)} instead.", param: $"metadata.{p.Name}", code: "invalid_type");
                    return;
                }
                if (p.Name.Length > 64)
                {
                    await Wire.OpenAIErrorAsync(http, 400, $"Invalid 'metadata': key too long. Expected a key with maximum length 64, but got a key with length {p.Name.Length} instead.", param: "metadata", code: "string_above_max_length");
                    return;
                }
                var value = p.Value.GetString()!;
                if (value.Length > 512)
                {
                    await Wire.OpenAIErrorAsync(http, 400, $"Invalid 'metadata.{p.Name}': string too long. Expected a string with maximum length 512, but got a string with length {value.Length} instead.", param: $"metadata.{p.Name}", code: "string_above_max_length");
                    return;
                }
                metadata[p.Name] = value;
            }
            if (metadata.Count > 16)
            {
                await Wire.OpenAIErrorAsync(http, 400, $"Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with {metadata.Count} properties instead.", param: "metadata", code: "object_above_max_properties");
                return;
            }
        }
        var inputId = Str("input_file_id")!;
        if (!ctx.Store.Files.TryGetValue(inputId, out var input))
        {
            await OpenAIFilesApi.NotFound(http, inputId, "input_file_id");
            return;
        }
        if (input.Purpose != "batch")
        {
            await Wire.OpenAIErrorAsync(http, 400, $"The input file '{inputId}' has purpose '{input.Purpose}'; batch input files must be uploaded with purpose 'batch'.", param: "input_file_id", code: "invalid_file_purpose");
            return;
        }

        var faults = ctx.Faults;
        var batchFaults = faults.NextBatchFaults(Wire.OpenAI);
        var id = Ids.NewOpenAIBatchId();
        var (total, model, errors) = engine.Validate(id, input, endpoint);
        foreach (var v in batchFaults.Where(b => b.Kind == "validation_failure"))
        {
            errors.Add(ValidationFault(v, model));
        }
        var record = new OpenAIBatchRecord
        {
            Id = id,
            Seq = ctx.Store.NextSeq(),
            Endpoint = endpoint,
            InputFileId = inputId,
            CompletionWindow = window,
            Metadata = metadata,
            Model = model,
            CreatedAtMs = ctx.NowMs,
            DurationMs = (long)ctx.Options.BatchDuration.TotalMilliseconds,
            Total = total,
            ValidationErrors = errors.Count > 0 ? errors : null,
            Faults = new BatchFaultSnapshot { Seed = faults.Seed, Items = [.. faults.Items], Batch = batchFaults },
        };
        ctx.Store.Save(record);
        ctx.Store.OpenAIBatches[id] = record;
        var view = engine.View(record, record.CreatedAtMs, creating: true);
        await Wire.WriteJsonAsync(http, 200, w => OpenAIBatchEngine.WriteBatch(w, record, view));
    }

    private static BatchErrorRecord ValidationFault(BatchFaultRule rule, string? model)
    {
        var code = rule.Code ?? "token_limit_exceeded";
        var message = rule.Message ?? code switch
        {
            "token_limit_exceeded" => $"Enqueued token limit reached for {model ?? "gpt-4o-mini"} in organization org-emulator. Limit: 2,000,000 enqueued tokens. Please try again once some in_progress batches have been completed.",
            "invalid_json_line" => "This line is not parseable as valid JSON.",
            "missing_required_parameter" => "Missing required parameter: 'custom_id'.",
            _ => $"The batch failed validation ({code}).",
        };
        var line = rule.Line ?? (code is "invalid_json_line" or "missing_required_parameter" ? 1 : null);
        return new BatchErrorRecord { Code = code, Message = message, Line = line, Param = code == "missing_required_parameter" ? "custom_id" : null };
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private Task ListAsync(HttpContext http)
    {
        var q = http.Request.Query;
        var limit = 20;
        if (q.ContainsKey("limit") && (!int.TryParse(q["limit"], NumberStyles.Integer, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 100))
        {
            return Wire.OpenAIErrorAsync(http, 400, $"Invalid 'limit': integer out of range. Expected a value between 1 and 100, but got {q["limit"]} instead.", param: "limit", code: "integer_out_of_range");
        }
        var all = ctx.Store.OpenAIBatches.Values.OrderByDescending(b => b.Seq).ToList();
        var after = q["after"].ToString();
        if (after.Length > 0)
        {
            var i = all.FindIndex(b => b.Id == after);
            all = i < 0 ? [] : all[(i + 1)..];
        }
        var page = all.Take(limit).Select(b => (Record: b, View: engine.Refresh(b))).ToList();
        return Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object"u8, "list"u8);
            w.WriteStartArray("data"u8);
            foreach (var (record, view) in page)
            {
                OpenAIBatchEngine.WriteBatch(w, record, view);
            }
            w.WriteEndArray();
            Wire.WriteStringOrNull(w, "first_id"u8, page.Count > 0 ? page[0].Record.Id : null);
            Wire.WriteStringOrNull(w, "last_id"u8, page.Count > 0 ? page[^1].Record.Id : null);
            w.WriteBoolean("has_more"u8, all.Count > page.Count);
            w.WriteEndObject();
        });
    }

    private Task RetrieveAsync(HttpContext http)
    {
        var id = (string)http.Request.RouteValues["id"]!;
        if (!ctx.Store.OpenAIBatches.TryGetValue(id, out var record))
        {
            return NotFound(http, id);
        }
        var view = engine.Refresh(record);
        return Wire.WriteJsonAsync(http, 200, w => OpenAIBatchEngine.WriteBatch(w, record, view));
    }

    private Task CancelAsync(HttpContext http)
    {
        var id = (string)http.Request.RouteValues["id"]!;
        if (!ctx.Store.OpenAIBatches.TryGetValue(id, out var record))
        {
            return NotFound(http, id);
        }
        OpenAIBatchView view;
        lock (record)
        {
            view = engine.Refresh(record);
            if (OpenAIBatchEngine.IsTerminal(view.Status))
            {
                return Wire.OpenAIErrorAsync(http, 400, $"Cannot cancel a batch with status '{view.Status}'.");
            }
            if (record.CancelRequestedAtMs is null)
            {
                record.CancelRequestedAtMs = ctx.NowMs;
                ctx.Store.Save(record);
            }
            view = engine.Refresh(record);
        }
        return Wire.WriteJsonAsync(http, 200, w => OpenAIBatchEngine.WriteBatch(w, record, view));
    }

    public static Task NotFound(HttpContext http, string id) =>
        Wire.OpenAIErrorAsync(http, 404, $"No batch found with id '{id}'.");
}
