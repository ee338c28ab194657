using BatchPilot.Items;

namespace BatchPilot.Batches;

/// <summary>Our lifecycle state of a provider batch (the provider's own status is kept raw beside it).</summary>
public enum BatchState
{
    /// <summary>Items assigned; nothing sent.</summary>
    Planned,

    /// <summary>Written before the provider create call: the batch may or may not exist at the provider. Reconciled on start-up.</summary>
    Submitting,

    /// <summary>The provider has the batch.</summary>
    Submitted,

    /// <summary>The provider says the batch reached a terminal status; results not yet applied.</summary>
    Ended,

    /// <summary>Results applied to every item of the batch.</summary>
    Collected,

    /// <summary>The provider refused to create the batch; its items were failed with the reason.</summary>
    Rejected,
}

/// <summary>A provider batch as stored.</summary>
public sealed record BatchRecord
{
    /// <summary>Store id.</summary>
    public required long Id { get; init; }

    /// <summary>The job.</summary>
    public required string JobId { get; init; }

    /// <summary>1-based number of the batch within its job.</summary>
    public required int Number { get; init; }

    /// <summary>Our state.</summary>
    public required BatchState State { get; init; }

    /// <summary>Client token sent in the batch metadata, written before the create call.</summary>
    public required string Token { get; init; }

    /// <summary>Number of requests.</summary>
    public required int RequestCount { get; init; }

    /// <summary>Bytes of the request file/body.</summary>
    public long Bytes { get; init; }

    /// <summary>Provider batch id, once known.</summary>
    public string? ProviderBatchId { get; init; }

    /// <summary>Raw provider status (e.g. <c>in_progress</c>, <c>ended</c>).</summary>
    public string? ProviderStatus { get; init; }

    /// <summary>Uploaded input file id (OpenAI).</summary>
    public string? InputFileId { get; init; }

    /// <summary>Output file id (OpenAI).</summary>
    public string? OutputFileId { get; init; }

    /// <summary>Error file id (OpenAI).</summary>
    public string? ErrorFileId { get; init; }

    /// <summary>Requests done according to the provider.</summary>
    public int DoneCount { get; init; }

    /// <summary>Requests failed according to the provider.</summary>
    public int FailedCount { get; init; }

    /// <summary>Validation errors of a failed batch, one per line (<c>code [line N]: message</c>).</summary>
    public string? Errors { get; init; }

    /// <summary>Creation of the store row.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the create call was about to be made.</summary>
    public DateTimeOffset? SubmittingAt { get; init; }

    /// <summary>When the provider acknowledged the batch.</summary>
    public DateTimeOffset? SubmittedAt { get; init; }

    /// <summary>When the provider batch ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>When results were applied.</summary>
    public DateTimeOffset? CollectedAt { get; init; }

    /// <summary>The process that holds the submission lease.</summary>
    public string? LeaseOwner { get; init; }

    /// <summary>Until when the lease holds.</summary>
    public DateTimeOffset? LeaseUntil { get; init; }

    /// <summary>Not to be submitted before this time (after the provider's enqueued-token queue was full).</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>How many times the provider refused the batch because its queue was full and it was planned again.</summary>
    public int Resubmits { get; init; }

    /// <summary>Tokens the provider reported for the results applied from this batch (what was billed for it).</summary>
    public TokenUsage Usage { get; init; }

    /// <summary>The estimated cost in USD of sending the batch, computed the first time a budget applied to it.</summary>
    public decimal? EstimateUsd { get; init; }

    /// <summary>
    /// The estimated cost in USD reserved against the budgets when the batch was claimed for submission; counted while
    /// the batch is with the provider and replaced by <see cref="ActualUsd"/> once its results are applied.
    /// </summary>
    public decimal? ReservedUsd { get; init; }

    /// <summary>When the batch was claimed for submission (the day its spend counts against a daily budget).</summary>
    public DateTimeOffset? ReservedAt { get; init; }

    /// <summary>The actual cost in USD settled from <see cref="Usage"/> when the batch was collected; null when unpriced or not yet settled.</summary>
    public decimal? ActualUsd { get; init; }

    /// <summary>True while the provider still works on the batch.</summary>
    public bool IsActive => State is BatchState.Planned or BatchState.Submitting or BatchState.Submitted or BatchState.Ended;
}
