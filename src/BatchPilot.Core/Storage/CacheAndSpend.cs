using BatchPilot.Items;

namespace BatchPilot.Storage;

/// <summary>An answer kept in the response cache, with where it came from.</summary>
/// <param name="Key">The cache key (see <see cref="Running.ResponseCache.Key"/>).</param>
/// <param name="Text">The answer text.</param>
/// <param name="Usage">The usage the provider reported when it produced the answer.</param>
/// <param name="CreatedAt">When the answer was stored.</param>
/// <param name="JobId">The job whose item produced it.</param>
/// <param name="CustomId">The item that produced it.</param>
public sealed record CachedAnswer(string Key, string Text, TokenUsage? Usage, DateTimeOffset CreatedAt, string JobId, string CustomId);

/// <summary>A pending item to be answered from the response cache.</summary>
/// <param name="Seq">The item.</param>
/// <param name="Key">Its cache key.</param>
/// <param name="Text">The cached answer.</param>
public readonly record struct CacheHit(long Seq, string Key, string Text);

/// <summary>A batch to plan: its items, in seq order, and what it is sent with.</summary>
public sealed record PlannedBatch
{
    /// <summary>The items' seqs, ascending; every one must be Pending.</summary>
    public required IReadOnlyList<long> Seqs { get; init; }

    /// <summary>Bytes of the request file/body.</summary>
    public long Bytes { get; init; }

    /// <summary>The client token.</summary>
    public required string Token { get; init; }

    /// <summary>
    /// The cache key of each item, aligned with <see cref="Seqs"/>; the succeeded answers of keyed items are stored in the
    /// response cache when the batch is collected (<see cref="IJobStore.RememberAnswersAsync"/>). Null: nothing of this
    /// batch is cached.
    /// </summary>
    public IReadOnlyList<string>? CacheKeys { get; init; }
}

/// <summary>The usage billed for a job's batches, split by the API they went through.</summary>
/// <param name="BatchApi">Provider batches (Batch API prices).</param>
/// <param name="Sync">Chunks sent through the synchronous API (standard prices).</param>
public readonly record struct BilledUsage(TokenUsage BatchApi, TokenUsage Sync)
{
    /// <summary>Both together.</summary>
    public TokenUsage Total => new(BatchApi.InputTokens + Sync.InputTokens, BatchApi.OutputTokens + Sync.OutputTokens, BatchApi.CachedTokens + Sync.CachedTokens);
}

/// <summary>Money counted against a budget, in USD.</summary>
/// <param name="ActualUsd">Actual cost of the results applied (settled batches, and what in-flight batches reported so far).</param>
/// <param name="ReservedUsd">Estimates reserved for batches still with the provider, beyond what they already reported.</param>
public readonly record struct Spend(decimal ActualUsd, decimal ReservedUsd)
{
    /// <summary>Actual plus reserved: what the budget check compares.</summary>
    public decimal TotalUsd => ActualUsd + ReservedUsd;
}

/// <summary>The spend of one job and of one UTC day (all jobs).</summary>
/// <param name="Job">The job's spend.</param>
/// <param name="Day">The day's spend across every job: batches claimed for submission that day.</param>
public sealed record SpendSnapshot(Spend Job, Spend Day);

/// <summary>Which budget stopped a submission.</summary>
public enum BudgetKind
{
    /// <summary>The job's own budget (<c>--budget</c>).</summary>
    Job,

    /// <summary>The daily budget across all jobs (<c>budget.daily_usd</c>).</summary>
    Daily,
}

/// <summary>A reservation to make, and the limits it must stay within.</summary>
public sealed record BudgetLimits
{
    /// <summary>The estimate to reserve in USD; null reserves nothing (no budget applies, or the model has no price).</summary>
    public decimal? AmountUsd { get; init; }

    /// <summary>The job's budget, if any.</summary>
    public decimal? JobLimitUsd { get; init; }

    /// <summary>The daily budget, if any.</summary>
    public decimal? DailyLimitUsd { get; init; }

    /// <summary>Start of the UTC day the daily budget counts.</summary>
    public DateTimeOffset DayStart { get; init; }

    /// <summary>
    /// The budget that <see cref="AmountUsd"/> on top of <paramref name="spend"/> would pass (the job's first), or null
    /// when it fits. A nano-dollar of rounding is tolerated.
    /// </summary>
    public BudgetKind? Refuses(SpendSnapshot spend)
    {
        ArgumentNullException.ThrowIfNull(spend);
        var amount = AmountUsd ?? 0;
        if (JobLimitUsd is { } job && spend.Job.TotalUsd + amount > job + Tolerance)
        {
            return BudgetKind.Job;
        }

        return DailyLimitUsd is { } day && spend.Day.TotalUsd + amount > day + Tolerance ? BudgetKind.Daily : null;
    }

    private const decimal Tolerance = 0.000000001m;
}

/// <summary>What <see cref="IJobStore.TryReserveAsync"/> did.</summary>
public sealed record ReserveResult
{
    /// <summary>True when the batch moved to its new state with the reservation.</summary>
    public required bool Reserved { get; init; }

    /// <summary>The budget the reservation would have passed; null when reserved, or when the batch was not in an expected state.</summary>
    public BudgetKind? RefusedBy { get; init; }

    /// <summary>The spend before this reservation (zero, not read, when no limit was given).</summary>
    public required SpendSnapshot Spend { get; init; }
}
