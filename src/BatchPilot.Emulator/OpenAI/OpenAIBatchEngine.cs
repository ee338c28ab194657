using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using BatchPilot.Emulator.Answers;
using BatchPilot.Emulator.Infrastructure;
using BatchPilot.Emulator.Storage;

namespace BatchPilot.Emulator.OpenAI;

/// <summary>The state of an OpenAI batch at one instant, computed from its record and the clock.</summary>
internal readonly record struct OpenAIBatchView(
    string Status,
    long? InProgressAt,
    long? FinalizingAt,
    long? CompletedAt,
    long? FailedAt,
    long? ExpiredAt,
    long? CancellingAt,
    long? CancelledAt,
    int Total,
    int Completed,
    int Failed,
    bool NeedsOutput,
    int DoneCount,
    string? RestCode);

/// <summary>
/// OpenAI batch life cycle as a function of time: <c>validating</c> for the first 10% of
/// <see cref="EmulatorOptions.BatchDuration"/>, <c>in_progress</c> until 80% (counts growing linearly),
/// <c>finalizing</c> until 100%, then <c>completed</c>. Output and error files are generated once,
/// under a per-batch lock, as soon as a read finds the batch finalizing or later.
/// </summary>
internal sealed class OpenAIBatchEngine(EmulatorContext ctx)
{
    public const int MaxRequests = 50_000;
    public const long MaxInputBytes = 200L * 1024 * 1024;

    public static readonly string[] SupportedEndpoints = ["/v1/responses", "/v1/chat/completions"];

    private readonly ConcurrentDictionary<string, Lock> _locks = new(StringComparer.Ordinal);

    private static readonly HashSet<string> Terminal = ["completed", "failed", "expired", "cancelled"];

    public static bool IsTerminal(string status) => Terminal.Contains(status);

    /// <summary>Reads the whole input once at creation: counts requests, writes the custom ids aside, finds validation errors.</summary>
    public (int Total, string? Model, List<BatchErrorRecord> Errors) Validate(string batchId, FileRecord input, string endpoint)
    {
        var errors = new List<BatchErrorRecord>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? model = null;
        var total = 0;
        if (input.Bytes > MaxInputBytes)
        {
            errors.Add(new BatchErrorRecord { Code = "file_too_large", Message = $"The batch input file is larger than the {MaxInputBytes} maximum for the {model ?? "requested"} model. Please try again with a smaller batch." });
        }
        using var stream = new FileStream(ctx.Store.FileDataPath(input.Id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        using var reader = new JsonlReader(stream);
        using var ids = new StreamWriter(ctx.Store.CustomIdsPath(batchId), false, new UTF8Encoding(false), 1 << 16);
        while (reader.TryReadLine(out var line) && errors.Count < 10)
        {
            if (IsBlank(line.Span))
            {
                continue;
            }
            total++;
            var n = reader.LineNumber;
            LineHeader h;
            try
            {
                h = LineHeader.Parse(line.Span);
            }
            catch (JsonException)
            {
                errors.Add(new BatchErrorRecord { Code = "invalid_json_line", Message = "This line is not parseable as valid JSON.", Line = n });
                continue;
            }
            string? missing = h.CustomId is null ? "custom_id" : h.Method is null ? "method" : h.Url is null ? "url" : !h.HasBody ? "body" : h.Model is null ? "body.model" : null;
            if (missing is not null)
            {
                errors.Add(new BatchErrorRecord { Code = "missing_required_parameter", Message = $"Missing required parameter: '{missing}'.", Param = missing, Line = n });
                continue;
            }
            ids.Write(h.CustomId);
            ids.Write('\n');
            if (h.Method != "POST")
            {
                errors.Add(new BatchErrorRecord { Code = "invalid_value", Message = $"Invalid value: '{h.Method}'. Supported values are: 'POST'.", Param = "method", Line = n });
            }
            else if (h.Url != endpoint)
            {
                errors.Add(new BatchErrorRecord { Code = "mismatched_url", Message = $"The url '{h.Url}' does not match the batch endpoint '{endpoint}'.", Param = "url", Line = n });
            }
            else if (model is not null && h.Model != model)
            {
                errors.Add(new BatchErrorRecord { Code = "mismatched_model", Message = $"Each batch must use the same model; line {n} uses '{h.Model}' but earlier lines use '{model}'.", Param = "body.model", Line = n });
            }
            else if (!seen.Add(h.CustomId!))
            {
                errors.Add(new BatchErrorRecord { Code = "duplicate_custom_id", Message = $"The custom_id '{h.CustomId}' is used more than once; custom_id must be unique within a batch.", Param = "custom_id", Line = n });
            }
            model ??= h.Model;
        }
        if (total == 0 && errors.Count == 0)
        {
            errors.Add(new BatchErrorRecord { Code = "empty_file", Message = "The input file is empty. Please provide at least one request." });
        }
        else if (total > MaxRequests)
        {
            errors.Add(new BatchErrorRecord { Code = "too_many_requests", Message = $"The input file contains {total} requests; the maximum for one batch is {MaxRequests}." });
        }
        return (total, model, errors);
    }

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t\r"u8).IsEmpty;

    /// <summary>The batch as seen at <paramref name="nowMs"/>. <paramref name="creating"/> forces the fresh <c>validating</c> view.</summary>
    public OpenAIBatchView View(OpenAIBatchRecord r, long nowMs, bool creating = false)
    {
        long c = r.CreatedAtMs, d = r.DurationMs;
        long tv = c + d / 10, tf = c + d * 8 / 10, te = c + d;
        if (creating || (nowMs < tv && r.CancelRequestedAtMs is null))
        {
            return new OpenAIBatchView("validating", null, null, null, null, null, null, null, 0, 0, 0, false, 0, null);
        }
        if (r.ValidationErrors is { Count: > 0 })
        {
            return new OpenAIBatchView("failed", null, null, null, S(tv), null, null, null, 0, 0, 0, false, 0, null);
        }
        int DoneAt(long t) => t < tv ? 0 : t >= tf || tf == tv ? r.Total : (int)(r.Total * (t - tv) / (tf - tv));
        (int Completed, int Failed) Estimate(int done)
        {
            var failed = (int)Math.Round(done * ItemFaults.ExpectedRate(r.Faults, Wire.OpenAI));
            return (done - failed, failed);
        }
        if (r.CancelRequestedAtMs is { } ca)
        {
            var cancelEnd = ca + EmulatorContext.CancelDelayMs(d);
            var done = DoneAt(ca);
            long? inProgressAt = ca >= tv ? S(tv) : null;
            if (nowMs < cancelEnd)
            {
                var (ok, bad) = Estimate(done);
                return new OpenAIBatchView("cancelling", inProgressAt, null, null, null, null, S(ca), null, r.Total, ok, bad, false, done, "batch_cancelled");
            }
            return Final("cancelled", inProgressAt, null, null, null, S(ca), S(cancelEnd), done, "batch_cancelled");
        }
        if (nowMs < tf)
        {
            var (ok, bad) = Estimate(DoneAt(nowMs));
            return new OpenAIBatchView("in_progress", S(tv), null, null, null, null, null, null, r.Total, ok, bad, false, 0, null);
        }
        var expire = r.Faults.Batch.FirstOrDefault(b => b.Kind == "expire");
        var expiredDone = expire is null ? r.Total : (int)(r.Total * (expire.Fraction ?? 0.5));
        if (nowMs < te || r.Faults.Batch.Any(b => b.Kind == "stuck_finalizing"))
        {
            return Final("finalizing", S(tv), S(tf), null, null, null, null, expiredDone, expire is null ? null : "batch_expired");
        }
        return expire is null
            ? Final("completed", S(tv), S(tf), S(te), null, null, null, r.Total, null)
            : Final("expired", S(tv), S(tf), null, S(te), null, null, expiredDone, "batch_expired");

        OpenAIBatchView Final(string status, long? inProgress, long? finalizing, long? completed, long? expired, long? cancelling, long? cancelled, int done, string? rest)
        {
            int ok, bad;
            if (r.Generated)
            {
                (ok, bad) = (r.Completed, r.Failed);
            }
            else
            {
                var est = Estimate(done);
                (ok, bad) = (est.Completed, est.Failed + r.Total - done);
            }
            return new OpenAIBatchView(status, inProgress, finalizing, completed, null, expired, cancelling, cancelled, r.Total, ok, bad, !r.Generated, done, rest);
        }
    }

    private static long S(long ms) => ms / 1000;

    /// <summary>The current view, generating output first when it is due (once per batch).</summary>
    public OpenAIBatchView Refresh(OpenAIBatchRecord r)
    {
        var view = View(r, ctx.NowMs);
        if (!view.NeedsOutput)
        {
            return view;
        }
        lock (_locks.GetOrAdd(r.Id, _ => new Lock()))
        {
            if (!r.Generated)
            {
                Generate(r, view.DoneCount, view.RestCode);
            }
        }
        return View(r, ctx.NowMs);
    }

    /// <summary>Streams the input once and writes the output and error files; only non-empty files are kept.</summary>
    private void Generate(OpenAIBatchRecord r, int done, string? restCode)
    {
        var store = ctx.Store;
        var outPath = store.NewTempPath();
        var errPath = store.NewTempPath();
        var shape = Responder.ShapeOf(r.Endpoint) ?? Responder.Shape.ChatCompletions;
        var kinds = r.Faults.Batch.ToDictionary(b => b.Kind, b => b);
        var allFail = kinds.TryGetValue("only_error_file", out var onlyErrors);
        int completed = 0, failed = 0, index = 0;
        long inputTokens = 0, outputTokens = 0;
        var createdBase = (r.CreatedAtMs + r.DurationMs / 10) / 1000;
        var span = Math.Max(0, (r.DurationMs * 7 / 10) / 1000);
        var batchSeed = StableHash.Of(r.Id);
        using (var outW = new JsonlWriter(outPath))
        using (var errW = new JsonlWriter(errPath))
        {
            if (store.Files.ContainsKey(r.InputFileId))
            {
                using var stream = new FileStream(store.FileDataPath(r.InputFileId), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
                using var reader = new JsonlReader(stream);
                while (reader.TryReadLine(out var line))
                {
                    if (IsBlank(line.Span))
                    {
                        continue;
                    }
                    using var doc = JsonDocument.Parse(line);
                    var root = doc.RootElement;
                    var customId = root.GetProperty("custom_id").GetString()!;
                    var body = root.TryGetProperty("body", out var b) ? b : default;
                    var seed = StableHash.Of(customId, batchSeed);
                    var lineId = Ids.DerivedBase62("batch_req_", seed, 24);
                    var requestId = Ids.DerivedHex("", seed ^ 0x5bd1e995UL, 32);
                    var model = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "unknown-model";
                    var fault = index >= done && restCode is not null ? null
                        : allFail ? new ItemFaultRule { Error = onlyErrors!.Code ?? "server_error" } : ItemFaults.Decide(store, r.Faults, Wire.OpenAI, customId);
                    var violate = fault?.Error == ItemFaults.SchemaViolation;
                    fault = violate ? null : fault;
                    if (index >= done && restCode is not null)
                    {
                        ItemFaults.WriteOpenAITopLevelError(errW.Writer, lineId, customId, restCode, restCode == "batch_expired"
                            ? "This request could not be executed before the completion window expired."
                            : "This request was not executed because the batch was cancelled.");
                        errW.EndLine();
                        failed++;
                    }
                    else if (fault is not null)
                    {
                        ItemFaults.WriteOpenAIErrorLine(errW.Writer, lineId, customId, requestId, fault.Error, model);
                        errW.EndLine();
                        failed++;
                    }
                    else if (Responder.Read(body, shape, violate) is { ImageError: { } imageError })
                    {
                        ItemFaults.WriteOpenAIRequestError(errW.Writer, lineId, customId, requestId, 400, imageError.Message, "invalid_request_error", imageError.Param, imageError.Code);
                        errW.EndLine();
                        failed++;
                    }
                    else
                    {
                        var prompt = Responder.Read(body, shape, violate);
                        var created = createdBase + (r.Total > 0 ? span * index / r.Total : 0);
                        WriteSuccessLine(outW, kinds, seed, lineId, customId, requestId, created, prompt, body, shape);
                        completed++;
                        inputTokens += prompt.InputTokens;
                        outputTokens += prompt.OutputTokens;
                    }
                    index++;
                }
            }
        }
        var noFiles = kinds.ContainsKey("no_output_file");
        var truncate = kinds.TryGetValue("truncated_download", out var t) ? t.Fraction ?? 0.5 : (double?)null;
        r.OutputFileId = noFiles ? null : Publish(outPath, $"batch_{r.Id}_output.jsonl", truncate);
        r.ErrorFileId = noFiles ? null : Publish(errPath, $"batch_{r.Id}_error.jsonl", null);
        r.Completed = completed;
        r.Failed = failed;
        r.InputTokens = inputTokens;
        r.OutputTokens = outputTokens;
        r.Generated = true;
        store.Save(r);
    }

    private static void WriteSuccessLine(JsonlWriter w, Dictionary<string, BatchFaultRule> kinds, ulong seed, string lineId, string customId, string requestId, long created, Prompt prompt, JsonElement body, Responder.Shape shape)
    {
        bool Hit(string kind, ulong salt) => kinds.TryGetValue(kind, out var rule) && StableHash.ToUnit(StableHash.Combine(seed, salt)) < (rule.Fraction ?? 0.1);
        if (Hit("missing_lines", 1))
        {
            return;
        }
        if (Hit("malformed_lines", 2))
        {
            w.WriteRawLine(Encoding.UTF8.GetBytes($"{{\"id\": \"{lineId}\", \"custom_id\": \"{customId}\", \"response\": {{\"status_code\": 200, \"request_id\": \"{requestId}\", \"body\": {{\"id\": \"chatcmpl-"));
            return;
        }
        var copies = Hit("duplicate_lines", 3) ? 2 : 1;
        for (var i = 0; i < copies; i++)
        {
            WriteOutputLine(w.Writer, lineId, customId, requestId, created, prompt, body, shape, seed);
            w.EndLine();
        }
        if (Hit("unknown_lines", 4))
        {
            WriteOutputLine(w.Writer, Ids.DerivedBase62("batch_req_", ~seed, 24), "unknown-" + Ids.DerivedHex("", seed, 8), requestId, created, prompt, body, shape, ~seed);
            w.EndLine();
        }
    }

    private static void WriteOutputLine(Utf8JsonWriter w, string lineId, string customId, string requestId, long created, Prompt prompt, JsonElement body, Responder.Shape shape, ulong seed)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, lineId);
        w.WriteString("custom_id"u8, customId);
        w.WriteStartObject("response"u8);
        w.WriteNumber("status_code"u8, 200);
        w.WriteString("request_id"u8, requestId);
        w.WritePropertyName("body"u8);
        if (shape == Responder.Shape.Responses)
        {
            Responder.WriteResponse(w, Ids.DerivedHex("resp_", seed, 50), Ids.DerivedHex("msg_", ~seed, 50), created, prompt, body);
        }
        else
        {
            Responder.WriteChatCompletion(w, Ids.DerivedBase62("chatcmpl-", seed, 29), created, prompt);
        }
        w.WriteEndObject();
        w.WriteNull("error"u8);
        w.WriteEndObject();
    }

    /// <summary>Moves a generated temp file into the file store; null (and the temp deleted) when it is empty.</summary>
    private string? Publish(string tempPath, string filename, double? truncateFraction)
    {
        var length = new FileInfo(tempPath).Length;
        if (length == 0)
        {
            File.Delete(tempPath);
            return null;
        }
        var now = ctx.Now.ToUnixTimeSeconds();
        var file = new FileRecord
        {
            Id = Ids.NewFileId(),
            Seq = ctx.Store.NextSeq(),
            Bytes = length,
            CreatedAt = now,
            Filename = filename,
            Purpose = "batch_output",
            ExpiresAt = now + 30 * 86400,
            TruncateFraction = truncateFraction,
        };
        File.Move(tempPath, ctx.Store.FileDataPath(file.Id));
        ctx.Store.Save(file);
        ctx.Store.Files[file.Id] = file;
        return file.Id;
    }

    /// <summary>Writes the <c>Batch</c> object.</summary>
    public static void WriteBatch(Utf8JsonWriter w, OpenAIBatchRecord r, OpenAIBatchView v)
    {
        var filesVisible = v.Status is "completed" or "expired" or "cancelled";
        w.WriteStartObject();
        w.WriteString("id"u8, r.Id);
        w.WriteString("object"u8, "batch"u8);
        w.WriteString("endpoint"u8, r.Endpoint);
        Wire.WriteStringOrNull(w, "model"u8, r.Model);
        if (v.Status == "failed" && r.ValidationErrors is { Count: > 0 } errors)
        {
            w.WriteStartObject("errors"u8);
            w.WriteString("object"u8, "list"u8);
            w.WriteStartArray("data"u8);
            foreach (var e in errors)
            {
                w.WriteStartObject();
                w.WriteString("code"u8, e.Code);
                w.WriteString("message"u8, e.Message);
                Wire.WriteStringOrNull(w, "param"u8, e.Param);
                Wire.WriteNumberOrNull(w, "line"u8, e.Line);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("errors"u8);
        }
        w.WriteString("input_file_id"u8, r.InputFileId);
        w.WriteString("completion_window"u8, r.CompletionWindow);
        w.WriteString("status"u8, v.Status);
        Wire.WriteStringOrNull(w, "output_file_id"u8, filesVisible ? r.OutputFileId : null);
        Wire.WriteStringOrNull(w, "error_file_id"u8, filesVisible ? r.ErrorFileId : null);
        w.WriteNumber("created_at"u8, r.CreatedAtMs / 1000);
        Wire.WriteNumberOrNull(w, "in_progress_at"u8, v.InProgressAt);
        w.WriteNumber("expires_at"u8, r.CreatedAtMs / 1000 + 86400);
        Wire.WriteNumberOrNull(w, "finalizing_at"u8, v.FinalizingAt);
        Wire.WriteNumberOrNull(w, "completed_at"u8, v.CompletedAt);
        Wire.WriteNumberOrNull(w, "failed_at"u8, v.FailedAt);
        Wire.WriteNumberOrNull(w, "expired_at"u8, v.ExpiredAt);
        Wire.WriteNumberOrNull(w, "cancelling_at"u8, v.CancellingAt);
        Wire.WriteNumberOrNull(w, "cancelled_at"u8, v.CancelledAt);
        w.WriteStartObject("request_counts"u8);
        w.WriteNumber("total"u8, v.Total);
        w.WriteNumber("completed"u8, v.Completed);
        w.WriteNumber("failed"u8, v.Failed);
        w.WriteEndObject();
        var generated = r.Generated && filesVisible;
        w.WriteStartObject("usage"u8);
        w.WriteNumber("input_tokens"u8, generated ? r.InputTokens : 0);
        w.WriteStartObject("input_tokens_details"u8);
        w.WriteNumber("cached_tokens"u8, 0);
        w.WriteEndObject();
        w.WriteNumber("output_tokens"u8, generated ? r.OutputTokens : 0);
        w.WriteStartObject("output_tokens_details"u8);
        w.WriteNumber("reasoning_tokens"u8, 0);
        w.WriteEndObject();
        w.WriteNumber("total_tokens"u8, generated ? r.InputTokens + r.OutputTokens : 0);
        w.WriteEndObject();
        if (r.Metadata is null)
        {
            w.WriteNull("metadata"u8);
        }
        else
        {
            w.WriteStartObject("metadata"u8);
            foreach (var (k, val) in r.Metadata)
            {
                w.WriteString(k, val);
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }
}

/// <summary>The top-level fields of an input line, read without building a DOM.</summary>
internal ref struct LineHeader
{
    public string? CustomId;
    public string? Method;
    public string? Url;
    public bool HasBody;
    public string? Model;

    /// <exception cref="JsonException">The line is not one JSON object.</exception>
    public static LineHeader Parse(ReadOnlySpan<byte> line)
    {
        var h = new LineHeader();
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("not an object");
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("custom_id"u8))
            {
                reader.Read();
                h.CustomId = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("method"u8))
            {
                reader.Read();
                h.Method = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("url"u8))
            {
                reader.Read();
                h.Url = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("body"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }
                h.HasBody = true;
                var depth = reader.CurrentDepth;
                while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
                {
                    if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("model"u8))
                    {
                        reader.Read();
                        h.Model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    }
                    else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            throw new JsonException("trailing content");
        }
        return h;
    }
}
