using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Pricing;

namespace BatchPilot.Operations;

/// <summary>A cost estimate of a job before it is sent.</summary>
public sealed record CostEstimate
{
    /// <summary>Items counted.</summary>
    public required long Items { get; init; }

    /// <summary>Estimated input tokens (rendered characters / 4).</summary>
    public required long InputTokens { get; init; }

    /// <summary>Assumed output tokens (<see cref="OutputTokensPerItem"/> per item).</summary>
    public required long OutputTokens { get; init; }

    /// <summary>Output tokens assumed per item: the job's max tokens, else <see cref="CostEstimator.DefaultOutputTokens"/>.</summary>
    public required int OutputTokensPerItem { get; init; }

    /// <summary>Estimated cost through the Batch API (USD), null when the model has no known price.</summary>
    public decimal? BatchCostUsd { get; init; }

    /// <summary>Estimated cost through the synchronous API (USD), null when the model has no known price.</summary>
    public decimal? SyncCostUsd { get; init; }

    /// <summary>How the estimate was made, as a sentence for the user.</summary>
    public required string Basis { get; init; }
}

/// <summary>
/// A quick cost estimate: input tokens counted as rendered characters / 4 (no tokenizer yet), output tokens assumed to be
/// the job's max tokens (else 256) per item, priced with <see cref="PriceTable"/>. Labelled as an estimate wherever shown.
/// </summary>
public static class CostEstimator
{
    /// <summary>Output tokens assumed per item when the job sets no max tokens.</summary>
    public const int DefaultOutputTokens = 256;

    /// <summary>Estimates a job from its rows (streamed; memory stays flat).</summary>
    /// <param name="spec">What the job sends.</param>
    /// <param name="columns">The input's columns.</param>
    /// <param name="rows">Row values aligned with <paramref name="columns"/>.</param>
    /// <param name="prices">The price table (default: the built-in one).</param>
    /// <param name="cancellationToken">Stops the pass between two rows.</param>
    public static CostEstimate Estimate(JobSpec spec, IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string?>> rows, PriceTable? prices = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        prices ??= PriceTable.Default;
        var factory = new RequestFactory(spec, columns, spec.InputPath);
        long items = 0, chars = 0;
        foreach (var values in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var r = factory.Create(values);
            chars += r.UserText.Length + (r.System?.Length ?? 0);
            items++;
        }

        return Of(spec, items, chars, prices);
    }

    /// <summary>Builds the estimate from a count of items and of rendered characters.</summary>
    public static CostEstimate Of(JobSpec spec, long items, long renderedChars, PriceTable? prices = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        prices ??= PriceTable.Default;
        var perItem = spec.MaxTokens is > 0 ? spec.MaxTokens.Value : DefaultOutputTokens;
        var input = (renderedChars + 3) / 4;
        var output = items * perItem;
        var usage = new TokenUsage(input, output);
        return new CostEstimate
        {
            Items = items,
            InputTokens = input,
            OutputTokens = output,
            OutputTokensPerItem = perItem,
            BatchCostUsd = prices.Cost(spec.Model, usage, batch: true),
            SyncCostUsd = prices.Cost(spec.Model, usage, batch: false),
            Basis = $"Estimate: input tokens ≈ characters / 4, output assumed {perItem} tokens per item{(spec.MaxTokens is > 0 ? " (max tokens)" : string.Empty)}; list prices of {prices.Date}.",
        };
    }
}
