using System.Globalization;
using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Pricing;
using BatchPilot.Storage;

namespace BatchPilot.Exports;

/// <summary>The actual cost of each exported item (its batch's API price; $0 from the response cache), loaded once per export.</summary>
internal sealed class ItemCosts
{
    private readonly JobSpec _spec;
    private readonly PriceTable _prices;
    private readonly Dictionary<long, BatchRecord> _batches;

    private ItemCosts(JobSpec spec, PriceTable prices, Dictionary<long, BatchRecord> batches)
    {
        _spec = spec;
        _prices = prices;
        _batches = batches;
    }

    /// <summary>Reads the job's batches.</summary>
    public static async Task<ItemCosts> LoadAsync(IJobStore store, JobRecord job, ExportOptions options, CancellationToken cancellationToken)
    {
        var batches = await store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false);
        return new ItemCosts(job.Spec, options.Prices, batches.ToDictionary(b => b.Id));
    }

    /// <summary>The item's cost in USD, rounded to 1e-8; null when unknown or not yet answered.</summary>
    public decimal? Of(ItemRecord item)
    {
        var batch = item.BatchId is { } id && _batches.TryGetValue(id, out var b) ? b : null;
        return JobCosts.OfItem(_spec, item, batch, _prices) is { } usd ? Math.Round(usd, 8) : null;
    }

    /// <summary>A cost as written in CSV cells: invariant digits, no exponent.</summary>
    public static string? Text(decimal? usd) => usd?.ToString("0.########", CultureInfo.InvariantCulture);
}
