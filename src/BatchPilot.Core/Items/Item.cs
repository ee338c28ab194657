namespace BatchPilot.Items;

/// <summary>Our state of one request.</summary>
public enum ItemStatus
{
    /// <summary>Not in any batch yet (new, or elected again by resume).</summary>
    Pending,

    /// <summary>Assigned to a batch that is planned, being submitted, or running.</summary>
    InBatch,

    /// <summary>The provider answered with a 2xx response.</summary>
    Succeeded,

    /// <summary>The provider returned an error for this request.</summary>
    Failed,

    /// <summary>The batch expired before this request ran.</summary>
    Expired,

    /// <summary>The batch was cancelled before this request ran.</summary>
    Cancelled,
}

/// <summary>Token usage reported for one request.</summary>
/// <param name="InputTokens">Prompt tokens.</param>
/// <param name="OutputTokens">Completion tokens.</param>
/// <param name="CachedTokens">Prompt tokens served from the provider's cache.</param>
public readonly record struct TokenUsage(long InputTokens, long OutputTokens, long CachedTokens = 0);

/// <summary>One item as stored.</summary>
public sealed record ItemRecord
{
    /// <summary>The job.</summary>
    public required string JobId { get; init; }

    /// <summary>1-based position among the job's items, in input order.</summary>
    public required long Seq { get; init; }

    /// <summary>The provider-facing id, stable across attempts.</summary>
    public required string CustomId { get; init; }

    /// <summary>The spreadsheet row (or JSONL line) the item came from.</summary>
    public required long SourceRow { get; init; }

    /// <summary>The source row's values, aligned with the job's columns.</summary>
    public required string?[] Values { get; init; }

    /// <summary>Current state.</summary>
    public ItemStatus Status { get; init; }

    /// <summary>1 for the first attempt; resume increments it.</summary>
    public int Attempt { get; init; } = 1;

    /// <summary>The batch holding the current attempt.</summary>
    public long? BatchId { get; init; }

    /// <summary>The answer text.</summary>
    public string? ResultText { get; init; }

    /// <summary>Usage reported by the provider.</summary>
    public TokenUsage? Usage { get; init; }

    /// <summary>Provider error code (e.g. <c>context_length_exceeded</c>, <c>batch_expired</c>).</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Provider error message.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>Raw jobs: the provider's result line of the current attempt, verbatim (null until collected, and for table jobs).</summary>
    public string? RawResult { get; init; }

    /// <summary>
    /// True when the answer came from the response cache (an identical earlier request) instead of the provider:
    /// nothing was sent, nothing was billed, and <see cref="Usage"/> is null.
    /// </summary>
    public bool FromCache { get; init; }
}
