using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;

namespace BatchPilot.Storage;

/// <summary>A new item to insert.</summary>
/// <param name="Seq">1-based position among the job's items.</param>
/// <param name="CustomId">Provider-facing id.</param>
/// <param name="SourceRow">Spreadsheet row or JSONL line it came from.</param>
/// <param name="Values">Row values aligned with the job's columns.</param>
public readonly record struct NewItem(long Seq, string CustomId, long SourceRow, string?[] Values);

/// <summary>Fields of a batch to change; null leaves a field as it is.</summary>
public sealed record BatchUpdate
{
    /// <summary>Provider batch id.</summary>
    public string? ProviderBatchId { get; init; }

    /// <summary>Raw provider status.</summary>
    public string? ProviderStatus { get; init; }

    /// <summary>Input file id.</summary>
    public string? InputFileId { get; init; }

    /// <summary>Output file id.</summary>
    public string? OutputFileId { get; init; }

    /// <summary>Error file id.</summary>
    public string? ErrorFileId { get; init; }

    /// <summary>Requests done.</summary>
    public int? DoneCount { get; init; }

    /// <summary>Requests failed.</summary>
    public int? FailedCount { get; init; }

    /// <summary>Validation errors.</summary>
    public string? Errors { get; init; }

    /// <summary>Lease owner (process identity).</summary>
    public string? LeaseOwner { get; init; }

    /// <summary>Lease end.</summary>
    public DateTimeOffset? LeaseUntil { get; init; }

    /// <summary>Clears the lease.</summary>
    public bool ClearLease { get; init; }

    /// <summary>Clears the input file id (the staged file is gone).</summary>
    public bool ClearInputFile { get; init; }

    /// <summary>Submitting time.</summary>
    public DateTimeOffset? SubmittingAt { get; init; }

    /// <summary>Submitted time.</summary>
    public DateTimeOffset? SubmittedAt { get; init; }

    /// <summary>Ended time.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Collected time.</summary>
    public DateTimeOffset? CollectedAt { get; init; }

    /// <summary>Latest raw provider JSON.</summary>
    public string? ProviderJson { get; init; }

    /// <summary>A new client token (when the batch is planned again after the provider refused it).</summary>
    public string? NewToken { get; init; }

    /// <summary>Not to be submitted before this time.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>Counts one more resubmission.</summary>
    public bool IncrementResubmits { get; init; }

    /// <summary>Forgets the provider batch (id, status, files, counts, errors) so the batch can be created again.</summary>
    public bool ClearProviderBatch { get; init; }

    /// <summary>The batch's estimated cost (USD), kept so it is computed once.</summary>
    public decimal? EstimateUsd { get; init; }

    /// <summary>The actual cost settled from the batch's usage (USD).</summary>
    public decimal? ActualCostUsd { get; init; }

    /// <summary>Releases the budget reservation (the batch goes back to Planned, or was never sent).</summary>
    public bool ClearReservation { get; init; }
}

/// <summary>What applying a chunk of result lines did.</summary>
public sealed record ApplyResult
{
    /// <summary>Lines applied to an item.</summary>
    public int Applied { get; init; }

    /// <summary>Custom ids that match no item of the job.</summary>
    public IReadOnlyList<string> Unknown { get; init; } = [];

    /// <summary>Custom ids of items that belong to a newer attempt in another batch (ignored).</summary>
    public IReadOnlyList<string> Stale { get; init; } = [];

    /// <summary>Custom ids whose item already had its result from this batch (a replay after a crash, or a duplicate).</summary>
    public IReadOnlyList<string> AlreadyApplied { get; init; } = [];
}

/// <summary>A history row: a state change with a readable reason.</summary>
public sealed record HistoryEntry
{
    /// <summary>The job.</summary>
    public required string JobId { get; init; }

    /// <summary>The batch, if the entry is about one.</summary>
    public long? BatchId { get; init; }

    /// <summary>When.</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>What kind of entity changed (<c>job</c>, <c>batch</c>, <c>items</c>).</summary>
    public required string Kind { get; init; }

    /// <summary>The new state.</summary>
    public required string State { get; init; }

    /// <summary>Why, as a sentence.</summary>
    public required string Reason { get; init; }
}

/// <summary>
/// The persistent store of jobs, items and batches. Every state change is a compare-and-set on the expected
/// current states, in the same transaction as its history row. Implementations are safe to use from
/// several processes at once.
/// </summary>
public interface IJobStore : IDisposable
{
    /// <summary>Where the store lives (a path or connection description without secrets).</summary>
    string Location { get; }

    /// <summary>Schema version.</summary>
    int SchemaVersion { get; }

    /// <summary>Finds the newest job with this fingerprint.</summary>
    Task<JobRecord?> FindJobByFingerprintAsync(string fingerprint, CancellationToken cancellationToken = default);

    /// <summary>Finds a job by id, unique id prefix, or name.</summary>
    Task<JobRecord?> GetJobAsync(string idOrName, CancellationToken cancellationToken = default);

    /// <summary>Jobs, newest first.</summary>
    Task<IReadOnlyList<JobRecord>> ListJobsAsync(int limit, CancellationToken cancellationToken = default);

    /// <summary>Inserts a job in <see cref="JobStatus.Preparing"/>.</summary>
    Task CreateJobAsync(JobRecord job, CancellationToken cancellationToken = default);

    /// <summary>
    /// Inserts a job in <see cref="JobStatus.Preparing"/> unless a job with the same fingerprint exists, as one atomic
    /// step: two processes running the same command at the same instant continue one job instead of sending the same
    /// rows twice. Returns the newest job with that fingerprint (and inserts nothing), or null once the job is inserted.
    /// </summary>
    Task<JobRecord?> CreateJobUnlessFingerprintExistsAsync(JobRecord job, CancellationToken cancellationToken = default);

    /// <summary>
    /// Inserts items in one transaction. An item whose seq is already stored with the same custom id (another process
    /// reading the same input at the same time) is left as it is. Throws <see cref="DuplicateCustomIdException"/> on a
    /// custom id repeated at another seq.
    /// </summary>
    Task AppendItemsAsync(string jobId, IReadOnlyList<NewItem> items, CancellationToken cancellationToken = default);

    /// <summary>Highest item seq of a job, 0 when none.</summary>
    Task<long> GetMaxItemSeqAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Compare-and-set of the job status with a history row. Returns false when the job was not in <paramref name="from"/>.</summary>
    Task<bool> TrySetJobStatusAsync(string jobId, IReadOnlyCollection<JobStatus> from, JobStatus to, string reason, long? totalItems = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes a job, its items, batches and history, and the response-cache entries its items produced.</summary>
    Task DeleteJobAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Item counts and token totals.</summary>
    Task<JobCounts> GetCountsAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Item counts and token totals of every job that has items, keyed by job id, read in one pass over the items.
    /// Jobs without items are absent from the dictionary.
    /// </summary>
    Task<IReadOnlyDictionary<string, JobCounts>> GetAllCountsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// At most <paramref name="limit"/> items of a job with a seq above <paramref name="afterSeq"/>, in seq order,
    /// only those in <paramref name="status"/> when it is given. Walks the primary key from <paramref name="afterSeq"/>,
    /// so a page costs the same wherever it is in the job.
    /// </summary>
    Task<IReadOnlyList<ItemRecord>> ReadItemsPageAsync(string jobId, ItemStatus? status, long afterSeq, int limit, CancellationToken cancellationToken = default);

    /// <summary>Pending items (not in a batch) after <paramref name="afterSeq"/>, in seq order.</summary>
    Task<IReadOnlyList<ItemRecord>> ReadPendingItemsAsync(string jobId, long afterSeq, int limit, CancellationToken cancellationToken = default);

    /// <summary>Creates a planned batch and moves its items from Pending to InBatch, atomically.</summary>
    Task<BatchRecord> CreatePlannedBatchAsync(string jobId, IReadOnlyList<long> seqs, long bytes, string token, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates a planned batch and moves its items from Pending to InBatch, atomically, recording each item's cache key
    /// when <see cref="PlannedBatch.CacheKeys"/> is given.
    /// </summary>
    Task<BatchRecord> CreatePlannedBatchAsync(string jobId, PlannedBatch batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the succeeded answers of a batch's items planned with a cache key in the response cache (replacing older
    /// answers to the same requests), in one transaction; called once the batch's results are applied, before it is
    /// marked collected, so a crash in between repeats it. Returns how many were stored.
    /// </summary>
    Task<int> RememberAnswersAsync(long batchId, CancellationToken cancellationToken = default);

    /// <summary>The cached answers of those <paramref name="keys"/> that are in the response cache.</summary>
    Task<IReadOnlyDictionary<string, CachedAnswer>> FindCachedAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default);

    /// <summary>
    /// Answers Pending items from the response cache in one transaction: each moves to Succeeded with the cached text,
    /// no usage (nothing was billed) and <see cref="ItemRecord.FromCache"/> set. Items no longer Pending are left alone.
    /// Returns how many were answered.
    /// </summary>
    Task<int> ApplyCacheHitsAsync(string jobId, IReadOnlyList<CacheHit> hits, CancellationToken cancellationToken = default);

    /// <summary>
    /// Compare-and-set of a batch state that also reserves <see cref="BudgetLimits.AmountUsd"/> against the budgets, in
    /// one transaction: refused (nothing changes) when the job's or the day's spend plus the amount would pass a limit.
    /// The reservation counts while the batch is Submitting, Submitted or Ended; a batch that goes back to Planned must
    /// clear it (<see cref="BatchUpdate.ClearReservation"/>), and a collected batch counts its settled actual cost instead.
    /// </summary>
    Task<ReserveResult> TryReserveAsync(long batchId, IReadOnlyCollection<BatchState> from, BatchState to, BatchUpdate update, BudgetLimits budget, string reason, CancellationToken cancellationToken = default);

    /// <summary>The usage billed for each job's batches (keyed by job id, jobs without batches absent), read in one query.</summary>
    Task<IReadOnlyDictionary<string, BilledUsage>> GetBilledUsageAsync(CancellationToken cancellationToken = default);

    /// <summary>The spend of a job and of the UTC day starting at <paramref name="dayStart"/> (all jobs).</summary>
    Task<SpendSnapshot> GetSpendAsync(string jobId, DateTimeOffset dayStart, CancellationToken cancellationToken = default);

    /// <summary>Sets (or with null removes) a job's budget, with a history row. Returns false when the job does not exist.</summary>
    Task<bool> SetJobBudgetAsync(string jobId, decimal? budgetUsd, string reason, CancellationToken cancellationToken = default);

    /// <summary>Items of a batch's current attempt, in seq order, streamed.</summary>
    IAsyncEnumerable<ItemRecord> ReadBatchItemsAsync(long batchId, CancellationToken cancellationToken = default);

    /// <summary>A job's batches in creation order.</summary>
    Task<IReadOnlyList<BatchRecord>> ListBatchesAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>One batch.</summary>
    Task<BatchRecord?> GetBatchAsync(long batchId, CancellationToken cancellationToken = default);

    /// <summary>Compare-and-set of a batch state with its fields and a history row.</summary>
    Task<bool> TryTransitionBatchAsync(long batchId, IReadOnlyCollection<BatchState> from, BatchState to, BatchUpdate update, string reason, CancellationToken cancellationToken = default);

    /// <summary>Updates fields of a batch without a state change (progress, file ids, lease).</summary>
    Task UpdateBatchAsync(long batchId, BatchUpdate update, CancellationToken cancellationToken = default);

    /// <summary>True when a provider batch id is already recorded on any batch.</summary>
    Task<bool> IsProviderBatchKnownAsync(string providerBatchId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies result lines of one batch: an item is updated only while it is InBatch in this very batch
    /// (a stale earlier attempt can never overwrite a newer one).
    /// </summary>
    Task<ApplyResult> ApplyResultsAsync(long batchId, IReadOnlyList<ResultLine> lines, CancellationToken cancellationToken = default);

    /// <summary>Ends every item still InBatch in a batch with the given status and error. Returns how many.</summary>
    Task<int> EndRemainingAsync(long batchId, ItemStatus status, string errorCode, string errorMessage, CancellationToken cancellationToken = default);

    /// <summary>Puts the items still InBatch in a batch back to Pending (same attempt): they were never answered. Returns how many.</summary>
    Task<int> ReleaseBatchItemsAsync(long batchId, CancellationToken cancellationToken = default);

    /// <summary>Moves a job's items in <paramref name="statuses"/> back to Pending as a new attempt, archiving the old one.</summary>
    Task<int> ElectForRetryAsync(string jobId, IReadOnlyCollection<ItemStatus> statuses, IReadOnlyCollection<string> skipErrorCodes, CancellationToken cancellationToken = default);

    /// <summary>Cancels a job's items that are still Pending (never sent). Returns how many.</summary>
    Task<int> CancelPendingItemsAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Ends Pending items (not in any batch) before they are sent, each with its line's status, error code and message
    /// (e.g. an image that cannot be read), in one transaction with a history row. Lines naming no Pending item are
    /// ignored. Returns how many items changed.
    /// </summary>
    Task<int> EndPendingItemsAsync(string jobId, IReadOnlyList<ResultLine> lines, string reason, CancellationToken cancellationToken = default);

    /// <summary>All items of a job in seq order, streamed.</summary>
    IAsyncEnumerable<ItemRecord> ReadItemsAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Appends a history row.</summary>
    Task AddHistoryAsync(HistoryEntry entry, CancellationToken cancellationToken = default);

    /// <summary>A job's history, oldest first.</summary>
    Task<IReadOnlyList<HistoryEntry>> GetHistoryAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The jobs whose <see cref="JobRecord.UpdatedAt"/> is at or after <paramref name="since"/>, and how many jobs the store
    /// holds: what a long-lived reader (the dashboard) needs to follow the store without re-reading every job each time.
    /// The default reads every job; a store overrides it with a cheaper query.
    /// </summary>
    async Task<JobChanges> ListJobsUpdatedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        var all = await ListJobsAsync(int.MaxValue, cancellationToken).ConfigureAwait(false);
        return new JobChanges(all.Where(j => j.UpdatedAt >= since).ToList(), all.Count);
    }
}

/// <summary>The jobs updated since a time, and the number of jobs in the store.</summary>
/// <param name="Jobs">The jobs updated at or after the time asked, newest first.</param>
/// <param name="TotalJobs">How many jobs the store holds in all.</param>
public sealed record JobChanges(IReadOnlyList<JobRecord> Jobs, int TotalJobs);

/// <summary>Another process planned some of the same pending items at the same time; nothing of this batch was stored.</summary>
public sealed class PlanningConflictException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public PlanningConflictException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public PlanningConflictException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public PlanningConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Two items of one job share a custom id.</summary>
public sealed class DuplicateCustomIdException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DuplicateCustomIdException(string customId, long sourceRow)
        : base($"custom id '{customId}' appears twice")
    {
        CustomId = customId;
        SourceRow = sourceRow;
    }

    /// <summary>The repeated id.</summary>
    public string CustomId { get; }

    /// <summary>The row of the second occurrence.</summary>
    public long SourceRow { get; }
}
