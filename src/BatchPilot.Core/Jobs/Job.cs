using System.Globalization;
using System.Security.Cryptography;

namespace BatchPilot.Jobs;

/// <summary>Our lifecycle state of a job (not the provider's status).</summary>
public enum JobStatus
{
    /// <summary>Rows are being read into the store; a rerun continues reading.</summary>
    Preparing,

    /// <summary>All items are in the store; nothing sent yet.</summary>
    Pending,

    /// <summary>Some items are planned, submitted or waiting for results.</summary>
    Running,

    /// <summary>Every item succeeded.</summary>
    Completed,

    /// <summary>Every item ended; some failed, expired or were cancelled.</summary>
    CompletedWithErrors,

    /// <summary>Every item ended and none succeeded.</summary>
    Failed,

    /// <summary>The user cancelled the job.</summary>
    Cancelled,
}

/// <summary>How a job's requests are sent.</summary>
public enum JobMode
{
    /// <summary>Provider batch APIs (half price, results within 24 h).</summary>
    Batch,

    /// <summary>Synchronous APIs (immediate, rate-limited).</summary>
    Sync,
}

/// <summary>What a job's items are.</summary>
public enum JobKind
{
    /// <summary>Rows of a table, each rendered through the prompt templates.</summary>
    Table,

    /// <summary>The requests of a provider batch file (<c>batchpilot submit-file</c>), each body sent verbatim.</summary>
    Raw,
}

/// <summary>Everything that defines what a job sends. Its fingerprint identifies "the same run command".</summary>
public sealed record JobSpec
{
    /// <summary>The input file as the user named it.</summary>
    public required string InputPath { get; init; }

    /// <summary>SHA-256 of the input bytes.</summary>
    public required string InputSha256 { get; init; }

    /// <summary>Provider name (<c>openai</c>, <c>anthropic</c>).</summary>
    public required string Provider { get; init; }

    /// <summary>Model id.</summary>
    public required string Model { get; init; }

    /// <summary>The user prompt template.</summary>
    public required string Prompt { get; init; }

    /// <summary>The system prompt template, if any.</summary>
    public string? System { get; init; }

    /// <summary>Few-shot examples (input, output), sent as user/assistant turns before each row's prompt. Empty when none.</summary>
    public IReadOnlyList<FewShotExample> Examples { get; init; } = [];

    /// <summary>Keep only rows whose column equals the value (exact match), all conditions together. Empty when none.</summary>
    public IReadOnlyList<RowFilter> Where { get; init; } = [];

    /// <summary>Most rows to include after the other selections, if any.</summary>
    public long? Limit { get; init; }

    /// <summary>Maximum output tokens.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Sampling temperature.</summary>
    public double? Temperature { get; init; }

    /// <summary>Column holding item ids, if any.</summary>
    public string? IdColumn { get; init; }

    /// <summary>First data row to include (1-based), if any.</summary>
    public long? StartRow { get; init; }

    /// <summary>Last data row to include (1-based, inclusive), if any.</summary>
    public long? EndRow { get; init; }

    /// <summary>CSV delimiter override.</summary>
    public string? Delimiter { get; init; }

    /// <summary>Input encoding override.</summary>
    public string? Encoding { get; init; }

    /// <summary>Where the provider is reached: a base URL, or <c>emulator</c> for the embedded emulator.</summary>
    public required string Endpoint { get; init; }

    /// <summary>How requests are sent.</summary>
    public JobMode Mode { get; init; } = JobMode.Batch;

    /// <summary>Table rows through templates, or a raw batch file's requests sent verbatim.</summary>
    public JobKind Kind { get; init; } = JobKind.Table;

    /// <summary>Raw OpenAI jobs: the endpoint every request goes to (the lines' <c>url</c>, e.g. <c>/v1/responses</c>); null otherwise.</summary>
    public string? RawUrl { get; init; }

    /// <summary>The item columns of a raw job: the request's custom id and its body, verbatim JSON text.</summary>
    public static IReadOnlyList<string> RawColumns { get; } = ["custom_id", "body"];

    /// <summary>Columns whose cells name an image sent with the row (URL, data URL or local path). Empty when none.</summary>
    public IReadOnlyList<string> ImageColumns { get; init; } = [];

    /// <summary>Absolute folders a relative image path is looked up in, in order (the input file's folder, then the working folder).</summary>
    public IReadOnlyList<string> ImageFolders { get; init; } = [];

    /// <summary>Rows whose image cannot be sent are skipped (status cancelled, code <c>image_skipped</c>) instead of failed.</summary>
    public bool SkipMissingImages { get; init; }

    /// <summary>The JSON schema every answer must follow (its text), if any.</summary>
    public string? JsonSchema { get; init; }

    /// <summary>The name the schema is sent under, if any.</summary>
    public string? JsonSchemaName { get; init; }

    /// <summary>The OpenAI API used (<c>chat</c> or <c>responses</c>, see <c>OpenAIApis</c>); null means chat completions.</summary>
    public string? Api { get; init; }

    /// <summary>A stable hash of everything that changes what is sent.</summary>
    public string Fingerprint()
    {
        var text = string.Join('\u001f', "v1", InputSha256, Provider, Model, Prompt, System ?? "\u2400",
            MaxTokens?.ToString(CultureInfo.InvariantCulture) ?? "-",
            Temperature?.ToString("R", CultureInfo.InvariantCulture) ?? "-",
            IdColumn ?? "-", StartRow?.ToString(CultureInfo.InvariantCulture) ?? "-",
            EndRow?.ToString(CultureInfo.InvariantCulture) ?? "-", Endpoint, Mode.ToString());

        // Later fields join only when set, so fingerprints of earlier jobs stay the same.
        if (Examples.Count > 0)
        {
            text += "\u001fexamples\u001f" + string.Join('\u001e', Examples.Select(e => e.Input + "\u001d" + e.Output));
        }

        if (Where.Count > 0)
        {
            text += "\u001fwhere\u001f" + string.Join('\u001e', Where.Select(f => f.Column + "\u001d" + f.Value));
        }

        if (Limit is { } limit)
        {
            text += "\u001flimit\u001f" + limit.ToString(CultureInfo.InvariantCulture);
        }

        if (Kind == JobKind.Raw)
        {
            text += "\u001fraw\u001f" + (RawUrl ?? "-");
        }

        if (ImageColumns.Count > 0)
        {
            text += "\u001fimages\u001f" + string.Join('\u001e', ImageColumns) + "\u001f" + string.Join('\u001e', ImageFolders) + (SkipMissingImages ? "\u001fskip" : string.Empty);
        }

        if (JsonSchema is not null)
        {
            text += "\u001fschema\u001f" + JsonSchemaName + "\u001d" + JsonSchema;
        }

        if (Api is { } api && api != "chat")
        {
            text += "\u001fapi\u001f" + api;
        }

        return Convert.ToHexStringLower(SHA256.HashData(global::System.Text.Encoding.UTF8.GetBytes(text)));
    }
}

/// <summary>One few-shot example: a user input and the assistant's answer.</summary>
/// <param name="Input">The user turn.</param>
/// <param name="Output">The assistant turn.</param>
public sealed record FewShotExample(string Input, string Output);

/// <summary>A row selection condition: the column's value equals <paramref name="Value"/> exactly.</summary>
/// <param name="Column">The column name.</param>
/// <param name="Value">The value to match.</param>
public sealed record RowFilter(string Column, string Value);

/// <summary>A job as stored.</summary>
public sealed record JobRecord
{
    /// <summary>Short id such as <c>job-7f3a9c</c>.</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public required string Name { get; init; }

    /// <summary>What the job sends.</summary>
    public required JobSpec Spec { get; init; }

    /// <summary>Fingerprint of <see cref="Spec"/>.</summary>
    public required string Fingerprint { get; init; }

    /// <summary>Current state.</summary>
    public required JobStatus Status { get; init; }

    /// <summary>Input column names in file order.</summary>
    public required IReadOnlyList<string> Columns { get; init; }

    /// <summary>Number of items.</summary>
    public long TotalItems { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When every item reached a final state.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>
    /// The most the job may spend in USD (<c>--budget</c>), kept across reruns and resumes; null when the job has no
    /// budget of its own (a daily budget may still apply).
    /// </summary>
    public decimal? BudgetUsd { get; init; }
}

/// <summary>Item counts of a job by state, plus token totals.</summary>
public sealed record JobCounts
{
    /// <summary>Items in total.</summary>
    public long Total { get; init; }

    /// <summary>Items not yet in a batch.</summary>
    public long Pending { get; init; }

    /// <summary>Items in a planned or submitted batch.</summary>
    public long InBatch { get; init; }

    /// <summary>Items that succeeded.</summary>
    public long Succeeded { get; init; }

    /// <summary>Items that failed.</summary>
    public long Failed { get; init; }

    /// <summary>Items whose batch expired before they ran.</summary>
    public long Expired { get; init; }

    /// <summary>Items cancelled.</summary>
    public long Cancelled { get; init; }

    /// <summary>Input tokens reported by the provider.</summary>
    public long InputTokens { get; init; }

    /// <summary>Cached input tokens reported by the provider.</summary>
    public long CachedTokens { get; init; }

    /// <summary>Output tokens reported by the provider.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Succeeded items answered from the response cache (nothing sent, nothing billed).</summary>
    public long FromCache { get; init; }

    /// <summary>Items in a final state.</summary>
    public long Ended => Succeeded + Failed + Expired + Cancelled;

    /// <summary>Items that did not succeed and ended.</summary>
    public long NotSucceeded => Failed + Expired + Cancelled;
}
