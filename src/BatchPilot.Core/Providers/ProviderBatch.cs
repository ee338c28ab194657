using BatchPilot.Items;

namespace BatchPilot.Providers;

/// <summary>How a provider batch ended, provider-neutral.</summary>
public enum BatchEnd
{
    /// <summary>Still running.</summary>
    None,

    /// <summary>Processing finished (OpenAI <c>completed</c>, Anthropic <c>ended</c>). Requests may still have failed.</summary>
    Completed,

    /// <summary>Validation failed; nothing ran (OpenAI <c>failed</c>).</summary>
    Failed,

    /// <summary>The completion window passed; partial results may exist.</summary>
    Expired,

    /// <summary>Cancelled; partial results may exist.</summary>
    Cancelled,
}

/// <summary>A validation error of a failed batch.</summary>
/// <param name="Code">Provider code, e.g. <c>token_limit_exceeded</c>.</param>
/// <param name="Message">Provider message.</param>
/// <param name="Line">1-based input line, when the provider gives one.</param>
public sealed record ProviderBatchError(string? Code, string? Message, int? Line);

/// <summary>A provider batch as the provider reports it.</summary>
public sealed record ProviderBatch
{
    /// <summary>Provider batch id.</summary>
    public required string Id { get; init; }

    /// <summary>Raw provider status.</summary>
    public required string Status { get; init; }

    /// <summary>Provider-neutral end.</summary>
    public BatchEnd End { get; init; }

    /// <summary>Requests in the batch (0 while validating on OpenAI).</summary>
    public int Total { get; init; }

    /// <summary>Requests finished (succeeded or failed).</summary>
    public int Done { get; init; }

    /// <summary>Requests failed.</summary>
    public int FailedCount { get; init; }

    /// <summary>Creation time at the provider.</summary>
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>Metadata (OpenAI).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Input file id (OpenAI).</summary>
    public string? InputFileId { get; init; }

    /// <summary>Output file id (OpenAI).</summary>
    public string? OutputFileId { get; init; }

    /// <summary>Error file id (OpenAI).</summary>
    public string? ErrorFileId { get; init; }

    /// <summary>Results URL (Anthropic).</summary>
    public string? ResultsUrl { get; init; }

    /// <summary>Validation errors.</summary>
    public IReadOnlyList<ProviderBatchError> Errors { get; init; } = [];

    /// <summary>The raw JSON the provider sent.</summary>
    public string? RawJson { get; init; }
}

/// <summary>What a result line says about an item.</summary>
public enum ResultKind
{
    /// <summary>2xx answer.</summary>
    Succeeded,

    /// <summary>The provider returned an error for the request.</summary>
    Failed,

    /// <summary>Not run before the window ended.</summary>
    Expired,

    /// <summary>Not run because the batch was cancelled.</summary>
    Cancelled,

    /// <summary>The line could not be read (not JSON, no custom id, unknown shape).</summary>
    Malformed,
}

/// <summary>One line of a provider's results.</summary>
public sealed record ResultLine
{
    /// <summary>The custom id (null for a malformed line without one).</summary>
    public string? CustomId { get; init; }

    /// <summary>What happened.</summary>
    public required ResultKind Kind { get; init; }

    /// <summary>The answer text.</summary>
    public string? Text { get; init; }

    /// <summary>Token usage.</summary>
    public TokenUsage? Usage { get; init; }

    /// <summary>Error code.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Error message.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>HTTP status of the underlying request, when given.</summary>
    public int? StatusCode { get; init; }

    /// <summary>Where the line came from (<c>output</c>, <c>error</c>, <c>results</c>) and its 1-based line number.</summary>
    public string? Source { get; init; }

    /// <summary>The provider's line verbatim; kept for raw jobs so that their provider-format output can be written.</summary>
    public string? Raw { get; init; }
}
