using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Pricing;
using BatchPilot.Running;
using BatchPilot.Storage;

namespace BatchPilot.Operations;

/// <summary>
/// Actual cost from the usage the provider reported, per item, batch and job: each batch at the price of the API it went
/// through (Batch API price for provider batches, standard price for chunks sent synchronously, so a job that switched
/// mode on resume is priced right), cached input tokens at the cached price, answers from the response cache at $0.
/// Null means unknown (the model has no price), never zero. Shared by the CLI views, exports and the dashboard.
/// </summary>
public static class JobCosts
{
    /// <summary>True for a chunk of requests sent through the synchronous API (recorded as a batch with provider status <c>sync</c>).</summary>
    public static bool IsSync(BatchRecord batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.ProviderStatus == SyncRunner.SyncStatus;
    }

    /// <summary>The actual cost of a batch: its reported usage at the price of the API it went through.</summary>
    public static decimal? OfBatch(JobSpec spec, BatchRecord batch, PriceTable prices)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(prices);
        return prices.Cost(spec.Model, batch.Usage, batch: !IsSync(batch));
    }

    /// <summary>The actual cost of a job: the sum over its batches (answers from the cache cost nothing).</summary>
    public static decimal? OfJob(JobSpec spec, IEnumerable<BatchRecord> batches, PriceTable prices)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(prices);
        if (prices.Find(spec.Model) is null)
        {
            return null;
        }

        decimal total = 0;
        foreach (var b in batches)
        {
            total += OfBatch(spec, b, prices) ?? 0;
        }

        return total;
    }

    /// <summary>The actual cost of a job from its billed usage (see <see cref="Storage.IJobStore.GetBilledUsageAsync"/>).</summary>
    public static decimal? OfJob(JobSpec spec, BilledUsage usage, PriceTable prices)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(prices);
        return prices.Cost(spec.Model, usage.BatchApi, batch: true) + prices.Cost(spec.Model, usage.Sync, batch: false);
    }

    /// <summary>
    /// The actual cost of an item's current attempt: $0 when answered from the cache; its usage at the price of its
    /// batch's API (the job's mode when the batch is not known); null when it has no usage yet or the model no price.
    /// </summary>
    public static decimal? OfItem(JobSpec spec, ItemRecord item, BatchRecord? batch, PriceTable prices)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(prices);
        if (prices.Find(spec.Model) is null)
        {
            return null;
        }

        if (item.FromCache)
        {
            return 0;
        }

        return item.Usage is { } u ? prices.Cost(spec.Model, u, batch: batch is null ? spec.Mode == JobMode.Batch : !IsSync(batch)) : null;
    }
}
