using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using BatchPilot.Emulator.Answers;
using BatchPilot.Emulator.Infrastructure;
using BatchPilot.Emulator.Storage;

namespace BatchPilot.Emulator.Anthropic;

/// <summary>An Anthropic batch at one instant.</summary>
internal readonly record struct AnthropicBatchView(string Status, DateTimeOffset? EndedAt, DateTimeOffset? CancelInitiatedAt, bool NeedsResults, int DoneCount, string? RestType);

/// <summary>
/// Anthropic life cycle as a function of time: <c>in_progress</c> for the whole
/// <see cref="EmulatorOptions.BatchDuration"/>, then <c>ended</c>; a cancel shows <c>canceling</c> for
/// a short while, then <c>ended</c> with the unprocessed requests <c>canceled</c>. Results are written
/// once, under a per-batch lock, when a read first finds the batch ended.
/// </summary>
internal sealed class AnthropicBatchEngine(EmulatorContext ctx)
{
    private readonly ConcurrentDictionary<string, Lock> _locks = new(StringComparer.Ordinal);

    public AnthropicBatchView View(AnthropicBatchRecord r, long nowMs)
    {
        long c = r.CreatedAtMs, d = r.DurationMs;
        var end = c + d;
        var stuck = r.Faults.Batch.Any(b => b.Kind == "stuck_finalizing");
        var expire = r.Faults.Batch.FirstOrDefault(b => b.Kind == "expire");
        if (r.CancelRequestedAtMs is { } ca)
        {
            var cancelEnd = ca + EmulatorContext.CancelDelayMs(d);
            if (stuck || cancelEnd < end)
            {
                var done = d == 0 ? r.Total : (int)(r.Total * Math.Clamp((double)(ca - c) / d, 0, 1));
                return nowMs < cancelEnd
                    ? new AnthropicBatchView("canceling", null, At(ca), false, done, "canceled")
                    : new AnthropicBatchView("ended", At(cancelEnd), At(ca), !r.Generated, done, "canceled");
            }
            if (nowMs < end)
            {
                return new AnthropicBatchView("canceling", null, At(ca), false, r.Total, null);
            }
            return Ended(At(ca));
        }
        if (nowMs < end || stuck)
        {
            return new AnthropicBatchView("in_progress", null, null, false, 0, null);
        }
        return Ended(null);

        AnthropicBatchView Ended(DateTimeOffset? cancelAt) => expire is null
            ? new AnthropicBatchView("ended", At(end), cancelAt, !r.Generated, r.Total, null)
            : new AnthropicBatchView("ended", At(end), cancelAt, !r.Generated, (int)(r.Total * (expire.Fraction ?? 0.5)), "expired");
    }

    private static DateTimeOffset At(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public AnthropicBatchView Refresh(AnthropicBatchRecord r)
    {
        var view = View(r, ctx.NowMs);
        if (!view.NeedsResults)
        {
            return view;
        }
        lock (_locks.GetOrAdd(r.Id, _ => new Lock()))
        {
            if (!r.Generated)
            {
                Generate(r, view.DoneCount, view.RestType);
            }
        }
        return View(r, ctx.NowMs);
    }

    private void Generate(AnthropicBatchRecord r, int done, string? restType)
    {
        var store = ctx.Store;
        var temp = store.NewTempPath();
        var kinds = r.Faults.Batch.ToDictionary(b => b.Kind, b => b);
        var allFail = kinds.TryGetValue("only_error_file", out var onlyErrors);
        int succeeded = 0, errored = 0, canceled = 0, expired = 0, index = 0;
        var batchSeed = StableHash.Of(r.Id);
        using (var writer = new JsonlWriter(temp))
        {
            var path = store.AnthropicRequestsPath(r.Id);
            if (File.Exists(path))
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                using var reader = new JsonlReader(stream);
                while (reader.TryReadLine(out var line))
                {
                    if (line.Length == 0)
                    {
                        continue;
                    }
                    using var doc = JsonDocument.Parse(line);
                    var customId = doc.RootElement.GetProperty("custom_id").GetString()!;
                    var p = doc.RootElement.GetProperty("params");
                    var seed = StableHash.Of(customId, batchSeed);
                    var w = writer.Writer;
                    bool Hit(string kind, ulong salt) => kinds.TryGetValue(kind, out var rule) && StableHash.ToUnit(StableHash.Combine(seed, salt)) < (rule.Fraction ?? 0.1);
                    var fault = index >= done && restType is not null ? null
                        : allFail ? new ItemFaultRule { Error = onlyErrors!.Code ?? "api_error" } : ItemFaults.Decide(store, r.Faults, Wire.Anthropic, customId);
                    var violate = fault?.Error == ItemFaults.SchemaViolation;
                    fault = violate ? null : fault;
                    if (index >= done && restType is not null)
                    {
                        WriteSimple(w, customId, restType);
                        writer.EndLine();
                        if (restType == "expired")
                        {
                            expired++;
                        }
                        else
                        {
                            canceled++;
                        }
                    }
                    else if (fault is not null || Responder.Read(p, Responder.Shape.AnthropicMessages).ImageError is not null)
                    {
                        var (type, message) = fault is not null
                            ? ItemFaults.Anthropic(fault.Error)
                            : ("invalid_request_error", Responder.Read(p, Responder.Shape.AnthropicMessages).ImageError!.Message);
                        w.WriteStartObject();
                        w.WriteString("custom_id"u8, customId);
                        w.WriteStartObject("result"u8);
                        w.WriteString("type"u8, "errored"u8);
                        w.WritePropertyName("error"u8);
                        Wire.WriteAnthropicError(w, type, message, Ids.DerivedBase62("req_011C", seed, 20));
                        w.WriteEndObject();
                        w.WriteEndObject();
                        writer.EndLine();
                        errored++;
                    }
                    else
                    {
                        succeeded++;
                        if (Hit("missing_lines", 1))
                        {
                            index++;
                            continue;
                        }
                        if (Hit("malformed_lines", 2))
                        {
                            writer.WriteRawLine(Encoding.UTF8.GetBytes($"{{\"custom_id\":\"{customId}\",\"result\":{{\"type\":\"succeeded\",\"message\":{{\"id\":\"msg_01"));
                            index++;
                            continue;
                        }
                        var prompt = Responder.Read(p, Responder.Shape.AnthropicMessages, violate);
                        var copies = Hit("duplicate_lines", 3) ? 2 : 1;
                        for (var i = 0; i < copies; i++)
                        {
                            WriteSucceeded(w, customId, Ids.DerivedBase62("msg_01", seed, 22), prompt);
                            writer.EndLine();
                        }
                        if (Hit("unknown_lines", 4))
                        {
                            WriteSucceeded(w, "unknown-" + Ids.DerivedHex("", seed, 8), Ids.DerivedBase62("msg_01", ~seed, 22), prompt);
                            writer.EndLine();
                        }
                    }
                    index++;
                }
            }
        }
        File.Move(temp, store.AnthropicResultsPath(r.Id), overwrite: true);
        r.Succeeded = succeeded;
        r.Errored = errored;
        r.Canceled = canceled;
        r.Expired = expired;
        r.Generated = true;
        store.Save(r);
    }

    private static void WriteSimple(Utf8JsonWriter w, string customId, string type)
    {
        w.WriteStartObject();
        w.WriteString("custom_id"u8, customId);
        w.WriteStartObject("result"u8);
        w.WriteString("type"u8, type);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSucceeded(Utf8JsonWriter w, string customId, string messageId, Prompt prompt)
    {
        w.WriteStartObject();
        w.WriteString("custom_id"u8, customId);
        w.WriteStartObject("result"u8);
        w.WriteString("type"u8, "succeeded"u8);
        w.WritePropertyName("message"u8);
        Responder.WriteMessage(w, messageId, prompt, "batch");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Writes the <c>MessageBatch</c> object; <paramref name="baseUrl"/> (from the request's host) prefixes <c>results_url</c>.</summary>
    public static void WriteBatch(Utf8JsonWriter w, AnthropicBatchRecord r, AnthropicBatchView v, string baseUrl)
    {
        var ended = v.Status == "ended" && r.Generated;
        w.WriteStartObject();
        w.WriteString("id"u8, r.Id);
        w.WriteString("type"u8, "message_batch"u8);
        w.WriteString("processing_status"u8, v.Status);
        w.WriteStartObject("request_counts"u8);
        w.WriteNumber("processing"u8, ended ? 0 : r.Total);
        w.WriteNumber("succeeded"u8, ended ? r.Succeeded : 0);
        w.WriteNumber("errored"u8, ended ? r.Errored : 0);
        w.WriteNumber("canceled"u8, ended ? r.Canceled : 0);
        w.WriteNumber("expired"u8, ended ? r.Expired : 0);
        w.WriteEndObject();
        Wire.WriteStringOrNull(w, "ended_at"u8, v.EndedAt is { } e ? TimeFormats.Rfc3339Micro(e) : null);
        var created = DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAtMs);
        w.WriteString("created_at"u8, TimeFormats.Rfc3339Micro(created));
        w.WriteString("expires_at"u8, TimeFormats.Rfc3339Micro(created.AddDays(1)));
        w.WriteNull("archived_at"u8);
        Wire.WriteStringOrNull(w, "cancel_initiated_at"u8, v.CancelInitiatedAt is { } c ? TimeFormats.Rfc3339Micro(c) : null);
        Wire.WriteStringOrNull(w, "results_url"u8, ended ? $"{baseUrl}/v1/messages/batches/{r.Id}/results" : null);
        w.WriteEndObject();
    }
}
