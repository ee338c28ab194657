using System.Globalization;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Pricing;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage;

namespace BatchPilot.Operations;

/// <summary>Where the expected output tokens of an estimate come from.</summary>
public enum OutputTokenSource
{
    /// <summary>The average output tokens per item of earlier jobs with the same model and prompt.</summary>
    Observed,

    /// <summary>The job's max tokens per item (an upper bound).</summary>
    MaxTokens,

    /// <summary><see cref="CostEstimator.DefaultOutputTokens"/> per item (no max tokens and no earlier run).</summary>
    Default,
}

/// <summary>What a job would send and cost, computed offline before anything is sent.</summary>
public sealed record JobEstimate
{
    /// <summary>The model.</summary>
    public required string Model { get; init; }

    /// <summary>The provider.</summary>
    public required string Provider { get; init; }

    /// <summary>Items (selected rows).</summary>
    public required long Items { get; init; }

    /// <summary>Input tokens: exact for known OpenAI models, an estimate otherwise (see <see cref="InputTokensBasis"/>).</summary>
    public required long InputTokens { get; init; }

    /// <summary>Whether <see cref="InputTokens"/> is the tokenizer's exact count or an estimate.</summary>
    public required TokenCountBasis InputTokensBasis { get; init; }

    /// <summary>Expected output tokens in total.</summary>
    public required long OutputTokens { get; init; }

    /// <summary>Expected output tokens per item.</summary>
    public required double OutputTokensPerItem { get; init; }

    /// <summary>Where <see cref="OutputTokensPerItem"/> comes from.</summary>
    public required OutputTokenSource OutputTokensSource { get; init; }

    /// <summary>Earlier jobs the observed average was taken from (0 when not observed).</summary>
    public int ObservedJobs { get; init; }

    /// <summary>Cost through the synchronous API in USD, null when the model has no known price.</summary>
    public decimal? CostSyncUsd { get; init; }

    /// <summary>Cost through the Batch API in USD, null when the model has no known price.</summary>
    public decimal? CostBatchUsd { get; init; }

    /// <summary>Provider batches the job would be split into (same rules as planning).</summary>
    public required int Batches { get; init; }

    /// <summary>Whether the model has a price in the table.</summary>
    public bool PriceKnown => CostSyncUsd is not null;

    /// <summary>Images the requests carry (0 without image columns).</summary>
    public long Images { get; init; }

    /// <summary>The part of <see cref="InputTokens"/> that images take (the providers' image-token rules).</summary>
    public long ImageTokens { get; init; }

    /// <summary>Rows that would not be sent because of their image (missing, unreadable, wrong type, too large).</summary>
    public long ImageProblems { get; init; }
}

/// <summary>Inputs of <see cref="JobEstimator.Estimate"/> beyond the job and its rows.</summary>
public sealed record EstimateOptions
{
    /// <summary>Per-batch limits, already lowered by <c>--batch-size</c>.</summary>
    public required ProviderLimits Limits { get; init; }

    /// <summary>The serialized size in bytes of one request line, as the provider client writes it.</summary>
    public required Func<IdentifiedRequest, int> Measure { get; init; }

    /// <summary>Most estimated input tokens per batch (the enqueued-token limit), if set.</summary>
    public long? MaxTokensPerBatch { get; init; }

    /// <summary>Observed output tokens per item from earlier runs, if any (see <see cref="JobEstimator.ObservedOutputAsync"/>).</summary>
    public ObservedOutput? Observed { get; init; }

    /// <summary>The price table (default: the built-in one).</summary>
    public PriceTable? Prices { get; init; }
}

/// <summary>The average output of earlier runs.</summary>
/// <param name="TokensPerItem">Output tokens per succeeded item.</param>
/// <param name="Jobs">Jobs it was computed from.</param>
/// <param name="Items">Succeeded items it was computed from.</param>
public sealed record ObservedOutput(double TokensPerItem, int Jobs, long Items);

/// <summary>
/// Estimates a job before it runs: items, input tokens from the real tokenizer (<see cref="TokenCounter"/>), expected
/// output tokens (observed average of earlier jobs with the same model and prompt, else max tokens, else
/// <see cref="CostEstimator.DefaultOutputTokens"/>), cost in sync and batch mode, and the number of provider batches
/// with the same splitting rules as <see cref="JobEngine.PlanAsync"/>. Streams the rows; sends nothing.
/// </summary>
public static class JobEstimator
{
    /// <summary>Estimates a job from its rows.</summary>
    /// <param name="spec">What the job sends (row range, --where filters, --limit and id column included).</param>
    /// <param name="columns">The input's columns.</param>
    /// <param name="rows">The input's data rows in order.</param>
    /// <param name="options">Limits, sizer, observed output and prices.</param>
    /// <param name="cancellationToken">Stops the pass between two rows.</param>
    public static JobEstimate Estimate(JobSpec spec, IReadOnlyList<string> columns, IEnumerable<SourceRow> rows, EstimateOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(options);
        var factory = new RequestFactory(spec, columns, spec.InputPath);
        var idIndex = spec.IdColumn is null ? -1 : IndexOf(columns, spec.IdColumn);
        var limits = options.Limits;
        long items = 0, input = 0, bytes = 0, tokens = 0, images = 0, imageTokens = 0, imageProblems = 0;
        var inBatch = 0;
        var batches = 0;
        foreach (var row in JobIngest.Select(spec, columns, rows))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (factory.HasImages && factory.CheckImages(row.Values, row.Row) is not null)
            {
                imageProblems++;
                continue;
            }

            var request = factory.Create(row.Values);
            input += TokenCounter.CountRequest(request, spec.Provider);
            foreach (var image in request.Images)
            {
                images++;
                imageTokens += TokenCounter.CountImage(request.Model, image.Width, image.Height, spec.Provider);
            }

            items++;
            var id = idIndex >= 0 && idIndex < row.Values.Length && !string.IsNullOrWhiteSpace(row.Values[idIndex])
                ? row.Values[idIndex]!.Trim()
                : "row-" + row.Index.ToString(CultureInfo.InvariantCulture);
            var size = options.Measure(new IdentifiedRequest(id, request));
            var estimate = JobEngine.EstimateTokens(size, request, spec.Provider);
            if (inBatch > 0 && (inBatch >= limits.MaxRequests || bytes + size > limits.MaxBytes
                || (options.MaxTokensPerBatch is { } maxTokens && tokens + estimate > maxTokens)))
            {
                batches++;
                inBatch = 0;
                bytes = 0;
                tokens = 0;
            }

            inBatch++;
            bytes += size;
            tokens += estimate;
        }

        if (inBatch > 0)
        {
            batches++;
        }

        return Of(spec, items, input, batches, options.Observed, options.Prices) with { Images = images, ImageTokens = imageTokens, ImageProblems = imageProblems };
    }

    /// <summary>Builds the estimate from counts (the pricing and output-token rules, without reading rows).</summary>
    public static JobEstimate Of(JobSpec spec, long items, long inputTokens, int batches, ObservedOutput? observed = null, PriceTable? prices = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        prices ??= PriceTable.Default;
        double perItem;
        OutputTokenSource source;
        if (observed is { Items: > 0 })
        {
            perItem = observed.TokensPerItem;
            source = OutputTokenSource.Observed;
        }
        else if (spec.MaxTokens is > 0)
        {
            perItem = spec.MaxTokens.Value;
            source = OutputTokenSource.MaxTokens;
        }
        else
        {
            perItem = CostEstimator.DefaultOutputTokens;
            source = OutputTokenSource.Default;
        }

        var output = (long)Math.Ceiling(perItem * items);
        var usage = new TokenUsage(inputTokens, output);
        return new JobEstimate
        {
            Model = spec.Model,
            Provider = spec.Provider,
            Items = items,
            InputTokens = inputTokens,
            InputTokensBasis = TokenCounter.BasisFor(spec.Model, spec.Provider),
            OutputTokens = output,
            OutputTokensPerItem = perItem,
            OutputTokensSource = source,
            ObservedJobs = source == OutputTokenSource.Observed ? observed!.Jobs : 0,
            CostSyncUsd = prices.Cost(spec.Model, usage, batch: false),
            CostBatchUsd = prices.Cost(spec.Model, usage, batch: true),
            Batches = batches,
        };
    }

    /// <summary>
    /// The average output tokens per succeeded item sent to the provider (answers from the cache left out) of the stored
    /// jobs with the same model, prompt and system prompt
    /// (the latest <paramref name="maxJobs"/> jobs are looked at), or null when none has succeeded items.
    /// </summary>
    public static async Task<ObservedOutput?> ObservedOutputAsync(IJobStore store, JobSpec spec, int maxJobs = 500, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(spec);
        var jobs = await store.ListJobsAsync(maxJobs, cancellationToken).ConfigureAwait(false);
        long output = 0, succeeded = 0;
        var count = 0;
        foreach (var job in jobs)
        {
            if (!string.Equals(job.Spec.Model, spec.Model, StringComparison.OrdinalIgnoreCase)
                || !string.Equals(job.Spec.Prompt, spec.Prompt, StringComparison.Ordinal)
                || !string.Equals(job.Spec.System, spec.System, StringComparison.Ordinal))
            {
                continue;
            }

            // Answers from the response cache carry no usage: they are left out of the average.
            var c = await store.GetCountsAsync(job.Id, cancellationToken).ConfigureAwait(false);
            var sent = c.Succeeded - c.FromCache;
            if (sent > 0 && c.OutputTokens > 0)
            {
                output += c.OutputTokens;
                succeeded += sent;
                count++;
            }
        }

        return succeeded > 0 ? new ObservedOutput((double)output / succeeded, count, succeeded) : null;
    }

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
