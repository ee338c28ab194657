using System.Text.Json;
using BatchPilot.Items;

namespace BatchPilot.Pricing;

/// <summary>Prices of one model in USD per 1M tokens.</summary>
/// <param name="Input">Standard input.</param>
/// <param name="CachedInput">Cached input.</param>
/// <param name="Output">Standard output.</param>
/// <param name="BatchInput">Batch input.</param>
/// <param name="BatchOutput">Batch output.</param>
public sealed record ModelPrice(decimal Input, decimal CachedInput, decimal Output, decimal BatchInput, decimal BatchOutput);

/// <summary>
/// A user's price of one model (USD per 1M tokens), e.g. from <c>prices:</c> in config/user.yaml. Unset fields keep the
/// built-in value; for a model the table does not know, <see cref="Input"/> and <see cref="Output"/> are required, cached
/// input defaults to the input price and batch prices to half the standard ones.
/// </summary>
public sealed record ModelPriceOverride
{
    /// <summary>Standard input.</summary>
    public decimal? Input { get; init; }

    /// <summary>Cached input.</summary>
    public decimal? CachedInput { get; init; }

    /// <summary>Standard output.</summary>
    public decimal? Output { get; init; }

    /// <summary>Batch input.</summary>
    public decimal? BatchInput { get; init; }

    /// <summary>Batch output.</summary>
    public decimal? BatchOutput { get; init; }
}

/// <summary>
/// List prices from the embedded <c>prices.json</c> (source and date inside). A model is matched exactly, then by the
/// longest known prefix (so dated snapshots like <c>gpt-4o-mini-2024-07-18</c> match). Unknown models have no price:
/// cost is shown as unknown, never as zero.
/// </summary>
public sealed class PriceTable
{
    private readonly Dictionary<string, ModelPrice> _models;

    private PriceTable(Dictionary<string, ModelPrice> models, string source, string date)
    {
        _models = models;
        Source = source;
        Date = date;
    }

    /// <summary>Where the prices come from.</summary>
    public string Source { get; }

    /// <summary>When they were recorded.</summary>
    public string Date { get; }

    /// <summary>The built-in table.</summary>
    public static PriceTable Default { get; } = LoadEmbedded();

    private static PriceTable LoadEmbedded()
    {
        using var stream = typeof(PriceTable).Assembly.GetManifestResourceStream("BatchPilot.Pricing.prices.json")
            ?? throw new InvalidOperationException("prices.json is not embedded");
        using var doc = JsonDocument.Parse(stream);
        var models = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
        foreach (var m in doc.RootElement.GetProperty("models").EnumerateObject())
        {
            var v = m.Value;
            models[m.Name] = new ModelPrice(
                v.GetProperty("input").GetDecimal(), v.GetProperty("cached_input").GetDecimal(), v.GetProperty("output").GetDecimal(),
                v.GetProperty("batch_input").GetDecimal(), v.GetProperty("batch_output").GetDecimal());
        }

        return new PriceTable(models, doc.RootElement.GetProperty("source").GetString()!, doc.RootElement.GetProperty("date").GetString()!);
    }

    /// <summary>
    /// A table with a user's prices merged over this one (matched like <see cref="Find"/>, so an override of
    /// <c>gpt-4o</c> also applies to its dated snapshots unless they have their own entry).
    /// </summary>
    /// <param name="overrides">Per model id.</param>
    /// <param name="origin">Where the overrides come from, added to <see cref="Source"/>.</param>
    /// <exception cref="ArgumentException">A model the table does not know, without both an input and an output price; or a negative price.</exception>
    public PriceTable WithOverrides(IReadOnlyDictionary<string, ModelPriceOverride> overrides, string origin = "user overrides")
    {
        ArgumentNullException.ThrowIfNull(overrides);
        if (overrides.Count == 0)
        {
            return this;
        }

        var models = new Dictionary<string, ModelPrice>(_models, StringComparer.OrdinalIgnoreCase);
        foreach (var (model, o) in overrides)
        {
            foreach (var v in new[] { o.Input, o.CachedInput, o.Output, o.BatchInput, o.BatchOutput })
            {
                if (v is < 0)
                {
                    throw new ArgumentException($"the price of {model} cannot be negative", nameof(overrides));
                }
            }

            var baseline = Find(model);
            if (baseline is null && (o.Input is null || o.Output is null))
            {
                throw new ArgumentException($"{model} is not in the built-in price table: give at least its input and output prices", nameof(overrides));
            }

            var input = o.Input ?? baseline!.Input;
            var output = o.Output ?? baseline!.Output;
            models[model] = new ModelPrice(
                input,
                o.CachedInput ?? (o.Input is null ? baseline!.CachedInput : baseline?.CachedInput ?? input),
                output,
                o.BatchInput ?? (o.Input is null ? baseline!.BatchInput : input / 2),
                o.BatchOutput ?? (o.Output is null ? baseline!.BatchOutput : output / 2));
        }

        return new PriceTable(models, Source + "; " + origin, Date);
    }

    /// <summary>The price of a model, or null when unknown.</summary>
    public ModelPrice? Find(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (_models.TryGetValue(model, out var exact))
        {
            return exact;
        }

        ModelPrice? best = null;
        var bestLength = 0;
        foreach (var (name, price) in _models)
        {
            if (model.StartsWith(name + "-", StringComparison.OrdinalIgnoreCase) && name.Length > bestLength)
            {
                best = price;
                bestLength = name.Length;
            }
        }

        return best;
    }

    /// <summary>Cost of a usage in USD, or null when the model has no price.</summary>
    public decimal? Cost(string model, TokenUsage usage, bool batch)
    {
        if (Find(model) is not { } p)
        {
            return null;
        }

        var uncached = Math.Max(0, usage.InputTokens - usage.CachedTokens);
        var inputRate = batch ? p.BatchInput : p.Input;
        var cachedRate = batch ? p.CachedInput / 2 : p.CachedInput;
        var outputRate = batch ? p.BatchOutput : p.Output;
        return ((uncached * inputRate) + (usage.CachedTokens * cachedRate) + (usage.OutputTokens * outputRate)) / 1_000_000m;
    }
}
