using System.Globalization;
using BatchPilot.Cli.Config;
using BatchPilot.Errors;
using BatchPilot.Pricing;

namespace BatchPilot.Cli.Commands;

/// <summary>
/// The price table the CLI uses: the built-in one with <c>prices:</c> from config/user.yaml merged over it, e.g.
/// <code>
/// prices:
///   gpt-4o-mini: { input: 0.15, cached_input: 0.075, output: 0.60, batch_input: 0.075, batch_output: 0.30 }
/// </code>
/// (USD per 1M tokens; unset fields keep the built-in value).
/// </summary>
internal static class PriceSettings
{
    private static readonly string[] Fields = ["input", "cached_input", "output", "batch_input", "batch_output"];

    /// <summary>Builds the table.</summary>
    /// <exception cref="InputException">A malformed entry (file, line, field).</exception>
    public static PriceTable Load(Settings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var entries = settings.YamlEntries("prices");
        if (entries.Count == 0)
        {
            return PriceTable.Default;
        }

        var overrides = new Dictionary<string, ModelPriceOverride>(StringComparer.OrdinalIgnoreCase);
        foreach (var e in entries)
        {
            foreach (var key in e.Values.Keys)
            {
                if (Array.IndexOf(Fields, key) < 0)
                {
                    throw new InputException($"unknown price field '{key}'", file: settings.UserYamlPath, row: e.Line, field: $"prices.{e.Name}.{key}",
                        hint: "use input, cached_input, output, batch_input, batch_output (USD per 1M tokens)");
                }
            }

            overrides[e.Name] = new ModelPriceOverride
            {
                Input = Read(settings, e, "input"),
                CachedInput = Read(settings, e, "cached_input"),
                Output = Read(settings, e, "output"),
                BatchInput = Read(settings, e, "batch_input"),
                BatchOutput = Read(settings, e, "batch_output"),
            };
        }

        try
        {
            return PriceTable.Default.WithOverrides(overrides, "prices from " + settings.UserYamlPath);
        }
        catch (ArgumentException ex)
        {
            throw new InputException(ex.Message.Split(" (Parameter", 2)[0], ex, file: settings.UserYamlPath, field: "prices");
        }
    }

    private static decimal? Read(Settings settings, YamlEntry e, string field)
    {
        if (!e.Values.TryGetValue(field, out var text) || text.Length == 0)
        {
            return null;
        }

        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < 0)
        {
            throw new InputException($"'{text}' is not a price (USD per 1M tokens, e.g. 0.15)", file: settings.UserYamlPath, row: e.Line, field: $"prices.{e.Name}.{field}");
        }

        return v;
    }
}
