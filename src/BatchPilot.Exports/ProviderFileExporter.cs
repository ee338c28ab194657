using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using BatchPilot.Errors;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Serialization;
using BatchPilot.Storage;

namespace BatchPilot.Exports;

/// <summary>
/// Writes a raw job's results as its provider's own output file, one line per input request, in input order: the line
/// the provider returned for the request, verbatim (OpenAI output or error file line; Anthropic results line), or, for a
/// request that got no line (never sent, batch expired, cancelled or refused), the line the provider writes for that case.
/// </summary>
internal static class ProviderFileExporter
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Anthropic's error types (an errored result names one of them).</summary>
    private static readonly HashSet<string> AnthropicErrorTypes =
    [
        "invalid_request_error", "authentication_error", "permission_error", "not_found_error", "rate_limit_error", "timeout_error", "overloaded_error", "api_error", "billing_error",
        "request_too_large",
    ];

    /// <summary>Refuses jobs that cannot give a provider file: table jobs (no provider lines kept) and jobs still running.</summary>
    /// <exception cref="InputException">The job is not a raw job, or some of its items have no result yet.</exception>
    public static async Task EnsureExportableAsync(IJobStore store, JobRecord job, CancellationToken cancellationToken)
    {
        if (job.Spec.Kind != JobKind.Raw)
        {
            throw new InputException($"job {job.Id} was made from a table, and only jobs of 'batchpilot submit-file' keep the provider's lines", field: "--format",
                hint: "use --format jsonl for one JSON object per item");
        }

        var counts = await store.GetCountsAsync(job.Id, cancellationToken).ConfigureAwait(false);
        if (counts.Pending + counts.InBatch > 0)
        {
            throw new InputException($"{(counts.Pending + counts.InBatch).ToString(CultureInfo.InvariantCulture)} item(s) of job {job.Id} have no result yet", field: "JOB",
                hint: $"wait for the job ('batchpilot watch {job.Id}'), then export again", exitCode: ExitCodes.Pending);
        }
    }

    /// <summary>Writes the lines; returns how many.</summary>
    public static async Task<long> WriteAsync(IJobStore store, JobRecord job, Stream stream, CancellationToken cancellationToken)
    {
        var anthropic = job.Spec.Provider == ProviderNames.Anthropic;
        await using var lines = new JsonLinesWriter(stream, WriterOptions);
        var w = lines.Writer;
        long rows = 0;
        await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            if (item.RawResult is { } raw)
            {
                // The provider's line as it came: every field kept, byte for byte.
                w.WriteRawValue(raw, skipInputValidation: true);
            }
            else if (anthropic)
            {
                WriteAnthropic(w, item);
            }
            else
            {
                WriteOpenAI(w, item);
            }

            await lines.EndLineAsync(cancellationToken).ConfigureAwait(false);
            rows++;
            if ((rows & 0xFFFF) == 0)
            {
                Checkpoints.Hit(Checkpoints.OutputWriting);
            }
        }

        Checkpoints.Hit(Checkpoints.OutputWriting);
        return rows;
    }

    /// <summary>An OpenAI error-file line without a response, as the provider writes for expired and cancelled requests.</summary>
    private static void WriteOpenAI(Utf8JsonWriter w, ItemRecord item)
    {
        var (code, message) = item.Status switch
        {
            ItemStatus.Expired => ("batch_expired", "This request could not be executed before the completion window expired."),
            ItemStatus.Cancelled => ("batch_cancelled", "This request was not executed because the batch was cancelled."),
            ItemStatus.Failed => (item.ErrorCode ?? "batch_failed", "The request failed."),
            _ => throw NoLine(item),
        };
        w.WriteStartObject();
        w.WriteNull("id");
        w.WriteString("custom_id", item.CustomId);
        w.WriteNull("response");
        w.WriteStartObject("error");
        w.WriteString("code", code);
        w.WriteString("message", item.ErrorMessage ?? message);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>An Anthropic results line: <c>expired</c>, <c>canceled</c>, or <c>errored</c> with the error the job recorded.</summary>
    private static void WriteAnthropic(Utf8JsonWriter w, ItemRecord item)
    {
        w.WriteStartObject();
        w.WriteString("custom_id", item.CustomId);
        w.WriteStartObject("result");
        switch (item.Status)
        {
            case ItemStatus.Expired:
                w.WriteString("type", "expired");
                break;
            case ItemStatus.Cancelled:
                w.WriteString("type", "canceled");
                break;
            case ItemStatus.Failed:
                var code = item.ErrorCode ?? "api_error";
                var known = AnthropicErrorTypes.Contains(code);
                w.WriteString("type", "errored");
                w.WriteStartObject("error");
                w.WriteString("type", "error");
                w.WriteStartObject("error");
                w.WriteString("type", known ? code : "api_error");
                w.WriteString("message", known ? item.ErrorMessage ?? "The request errored." : $"{code}: {item.ErrorMessage ?? "the request errored"}");
                w.WriteEndObject();
                w.WriteNull("request_id");
                w.WriteEndObject();
                break;
            default:
                throw NoLine(item);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>A succeeded item always has the provider's line (results are only applied from batch lines).</summary>
    private static InvalidOperationException NoLine(ItemRecord item) =>
        new($"item {item.CustomId} is {item.Status} but has no provider line stored");
}
