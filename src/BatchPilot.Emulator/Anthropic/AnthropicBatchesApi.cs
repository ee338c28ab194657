using System.Globalization;
using BatchPilot.Emulator.Infrastructure;
using BatchPilot.Emulator.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace BatchPilot.Emulator.Anthropic;

/// <summary><c>/v1/messages/batches</c>.</summary>
internal sealed class AnthropicBatchesApi(EmulatorContext ctx, AnthropicBatchEngine engine)
{
    public void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/messages/batches", CreateAsync);
        app.MapGet("/v1/messages/batches", ListAsync);
        app.MapGet("/v1/messages/batches/{id}", RetrieveAsync);
        app.MapPost("/v1/messages/batches/{id}/cancel", CancelAsync);
        app.MapDelete("/v1/messages/batches/{id}", DeleteAsync);
        app.MapGet("/v1/messages/batches/{id}/results", ResultsAsync);
    }

    private static string BaseUrl(HttpContext http) => $"{http.Request.Scheme}://{http.Request.Host}";

    private async Task CreateAsync(HttpContext http)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = AnthropicRequestsParser.MaxBodyBytes + 1024 * 1024;
        }
        if (http.Request.ContentLength > AnthropicRequestsParser.MaxBodyBytes)
        {
            await Wire.AnthropicErrorAsync(http, 413, "request_too_large", $"Request exceeds the maximum size of {AnthropicRequestsParser.MaxBodyBytes} bytes for a message batch.");
            return;
        }
        var id = Ids.NewAnthropicBatchId();
        var spool = ctx.Store.NewTempPath();
        var idsPath = ctx.Store.CustomIdsPath(id);
        var (count, error, status) = await AnthropicRequestsParser.ParseAsync(http.Request.Body, spool, idsPath, http.RequestAborted);
        if (error is not null)
        {
            File.Delete(spool);
            File.Delete(idsPath);
            await Wire.AnthropicErrorAsync(http, status, status == 413 ? "request_too_large" : "invalid_request_error", error);
            return;
        }
        File.Move(spool, ctx.Store.AnthropicRequestsPath(id));
        var faults = ctx.Faults;
        var record = new AnthropicBatchRecord
        {
            Id = id,
            Seq = ctx.Store.NextSeq(),
            CreatedAtMs = ctx.NowMs,
            DurationMs = (long)ctx.Options.BatchDuration.TotalMilliseconds,
            Total = count,
            Faults = new BatchFaultSnapshot { Seed = faults.Seed, Items = [.. faults.Items], Batch = faults.NextBatchFaults(Wire.Anthropic) },
        };
        ctx.Store.Save(record);
        ctx.Store.AnthropicBatches[id] = record;
        var view = new AnthropicBatchView("in_progress", null, null, false, 0, null);
        await Wire.WriteJsonAsync(http, 200, w => AnthropicBatchEngine.WriteBatch(w, record, view, BaseUrl(http)));
    }

    private Task ListAsync(HttpContext http)
    {
        var q = http.Request.Query;
        var limit = 20;
        if (q.ContainsKey("limit") && (!int.TryParse(q["limit"], NumberStyles.Integer, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
        {
            return Wire.AnthropicErrorAsync(http, 400, "invalid_request_error", "limit: Input should be less than or equal to 1000 and greater than or equal to 1");
        }
        var all = ctx.Store.AnthropicBatches.Values.Where(b => !b.Deleted).OrderByDescending(b => b.Seq).ToList();
        List<AnthropicBatchRecord> page;
        bool hasMore;
        var after = q["after_id"].ToString();
        var before = q["before_id"].ToString();
        if (before.Length > 0)
        {
            var i = all.FindIndex(b => b.Id == before);
            var newer = i < 0 ? [] : all[..i];
            page = newer.Skip(Math.Max(0, newer.Count - limit)).ToList();
            hasMore = newer.Count > page.Count;
        }
        else
        {
            if (after.Length > 0)
            {
                var i = all.FindIndex(b => b.Id == after);
                all = i < 0 ? [] : all[(i + 1)..];
            }
            page = all.Take(limit).ToList();
            hasMore = all.Count > page.Count;
        }
        var views = page.Select(b => (Record: b, View: engine.Refresh(b))).ToList();
        var baseUrl = BaseUrl(http);
        return Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("data"u8);
            foreach (var (record, view) in views)
            {
                AnthropicBatchEngine.WriteBatch(w, record, view, baseUrl);
            }
            w.WriteEndArray();
            w.WriteBoolean("has_more"u8, hasMore);
            Wire.WriteStringOrNull(w, "first_id"u8, page.Count > 0 ? page[0].Id : null);
            Wire.WriteStringOrNull(w, "last_id"u8, page.Count > 0 ? page[^1].Id : null);
            w.WriteEndObject();
        });
    }

    private bool TryGet(HttpContext http, out AnthropicBatchRecord record)
    {
        var id = (string)http.Request.RouteValues["id"]!;
        return ctx.Store.AnthropicBatches.TryGetValue(id, out record!) && !record.Deleted;
    }

    private static Task NotFound(HttpContext http) =>
        Wire.AnthropicErrorAsync(http, 404, "not_found_error", $"The requested resource could not be found.");

    private Task RetrieveAsync(HttpContext http)
    {
        if (!TryGet(http, out var record))
        {
            return NotFound(http);
        }
        var view = engine.Refresh(record);
        return Wire.WriteJsonAsync(http, 200, w => AnthropicBatchEngine.WriteBatch(w, record, view, BaseUrl(http)));
    }

    private Task CancelAsync(HttpContext http)
    {
        if (!TryGet(http, out var record))
        {
            return NotFound(http);
        }
        AnthropicBatchView view;
        lock (record)
        {
            view = engine.Refresh(record);
            if (view.Status == "in_progress" && record.CancelRequestedAtMs is null)
            {
                record.CancelRequestedAtMs = ctx.NowMs;
                ctx.Store.Save(record);
                view = engine.Refresh(record);
            }
        }
        // Cancelling an ended batch is not an error: Anthropic returns the batch unchanged.
        return Wire.WriteJsonAsync(http, 200, w => AnthropicBatchEngine.WriteBatch(w, record, view, BaseUrl(http)));
    }

    private Task DeleteAsync(HttpContext http)
    {
        if (!TryGet(http, out var record))
        {
            return NotFound(http);
        }
        var view = engine.Refresh(record);
        if (view.Status != "ended")
        {
            return Wire.AnthropicErrorAsync(http, 400, "invalid_request_error", $"Batch {record.Id} cannot be deleted while it is still processing. Cancel it first, then delete it once it has ended.");
        }
        record.Deleted = true;
        ctx.Store.Save(record);
        File.Delete(ctx.Store.AnthropicRequestsPath(record.Id));
        File.Delete(ctx.Store.AnthropicResultsPath(record.Id));
        return Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("id"u8, record.Id);
            w.WriteString("type"u8, "message_batch_deleted"u8);
            w.WriteEndObject();
        });
    }

    private async Task ResultsAsync(HttpContext http)
    {
        if (!TryGet(http, out var record))
        {
            await NotFound(http);
            return;
        }
        var view = engine.Refresh(record);
        if (view.Status != "ended")
        {
            await Wire.AnthropicErrorAsync(http, 400, "invalid_request_error", $"Batch {record.Id} has not ended yet; results are available once processing_status is 'ended'.");
            return;
        }
        await using var stream = new FileStream(ctx.Store.AnthropicResultsPath(record.Id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
        http.Response.StatusCode = 200;
        http.Response.ContentType = "application/x-jsonl";
        http.Response.ContentLength = stream.Length;
        var truncate = record.Faults.Batch.FirstOrDefault(b => b.Kind == "truncated_download");
        if (truncate is not null)
        {
            await OpenAI.Downloads.CopyTruncatedAsync(http, stream, (long)(stream.Length * (truncate.Fraction ?? 0.5)));
            return;
        }
        await stream.CopyToAsync(http.Response.Body, 1 << 16, http.RequestAborted);
    }
}
