using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using BatchPilot.Errors;
using BatchPilot.Operations;
using BatchPilot.Pricing;
using Spectre.Console;

namespace BatchPilot.Cli.Commands;

/// <summary>
/// <c>batchpilot costs [--by model|job|day]</c>: actual cost of the stored jobs from the usage the providers reported
/// for their batches (provider batches at Batch API prices, sync chunks at standard prices, cached input at the cached
/// price; answers from the response cache cost nothing). Models without a known price are listed apart with
/// their tokens, never counted as zero.
/// </summary>
internal static class CostsCommand
{
    private const int MaxJobs = 100_000;

    public static readonly Option<string> By = new("--by")
    {
        Description = "Group totals by model, job or day (the job's creation day, UTC).",
        DefaultValueFactory = _ => "model",
    };

    public static Command Create(JobCommands.Host host)
    {
        By.AcceptOnlyFromAmong("model", "job", "day");
        var cmd = new Command("costs", "Total actual cost of the jobs in the store, from the tokens the providers reported (batch price for batch jobs, cached input priced as cached).") { By };
        cmd.SetAction((pr, ct) => host(pr, (ctx, token) => ExecuteAsync(pr, ctx, token), ct));
        return cmd;
    }

    private static async Task<int> ExecuteAsync(ParseResult pr, CliContext ctx, CancellationToken ct)
    {
        var by = pr.GetValue(By)!;
        var prices = ctx.Prices;
        var report = await ComputeAsync(ctx, prices, by, ct).ConfigureAwait(false);
        foreach (var u in report.UnknownPriceModels)
        {
            ctx.Ui.Warn($"no price known for model '{u.Model}' ({u.Jobs} job(s)): its cost is unknown and left out of the totals. Add it under prices: in config/user.yaml.");
        }

        if (ctx.Ui.Json)
        {
            ctx.Ui.WriteJson(report, CostJson.Default.CostsView);
            return ExitCodes.Success;
        }

        if (report.Groups.Count == 0)
        {
            ctx.Ui.Info("No jobs in the store yet.");
            return ExitCodes.Success;
        }

        var t = new Table().Border(TableBorder.Rounded);
        foreach (var h in new[] { by == "job" ? "Job" : by == "day" ? "Day" : "Model", "Jobs", "Input", "Cached", "Output", "Cost" })
        {
            t.AddColumn(h);
        }

        foreach (var g in report.Groups)
        {
            t.AddRow(Markup.Escape(g.Key), g.Jobs.ToString(CultureInfo.InvariantCulture), Ui.Format.Number(g.InputTokens), Ui.Format.Number(g.CachedTokens),
                Ui.Format.Number(g.OutputTokens), g.UnpricedJobs > 0 && g.CostUsd is not null ? Ui.Format.Money(g.CostUsd) + " + unknown" : Ui.Format.Money(g.CostUsd));
        }

        ctx.Ui.Write(t);
        ctx.Ui.Line($"Total: {Ui.Format.Money(report.TotalUsd)}{(report.UnknownPriceModels.Count > 0 ? " (plus unknown cost of unpriced models)" : string.Empty)}; list prices of {prices.Date}.");
        return ExitCodes.Success;
    }

    /// <summary>Totals of the stored jobs grouped by <paramref name="by"/>.</summary>
    internal static async Task<CostsView> ComputeAsync(CliContext ctx, PriceTable prices, string by, CancellationToken ct)
    {
        var jobs = await ctx.Store.ListJobsAsync(MaxJobs, ct).ConfigureAwait(false);
        var billed = await ctx.Store.GetBilledUsageAsync(ct).ConfigureAwait(false);
        var groups = new Dictionary<string, CostGroup>(StringComparer.Ordinal);
        var unknown = new Dictionary<string, UnknownPriceModel>(StringComparer.OrdinalIgnoreCase);
        decimal total = 0;
        foreach (var job in jobs)
        {
            var usage = billed.GetValueOrDefault(job.Id);
            var c = usage.Total;
            var key = by switch
            {
                "job" => job.Id,
                "day" => job.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                _ => job.Spec.Model,
            };
            var cost = JobCosts.OfJob(job.Spec, usage, prices);
            var g = groups.TryGetValue(key, out var existing) ? existing : new CostGroup { Key = key, CostUsd = null };
            g = g with
            {
                Jobs = g.Jobs + 1,
                InputTokens = g.InputTokens + c.InputTokens,
                CachedTokens = g.CachedTokens + c.CachedTokens,
                OutputTokens = g.OutputTokens + c.OutputTokens,
                CostUsd = cost is { } v ? Math.Round((g.CostUsd ?? 0) + v, 6) : g.CostUsd,
                UnpricedJobs = g.UnpricedJobs + (cost is null ? 1 : 0),
            };
            groups[key] = g;
            if (cost is { } known)
            {
                total += known;
            }
            else
            {
                var u = unknown.TryGetValue(job.Spec.Model, out var prev) ? prev : new UnknownPriceModel { Model = job.Spec.Model };
                unknown[job.Spec.Model] = u with
                {
                    Jobs = u.Jobs + 1,
                    InputTokens = u.InputTokens + c.InputTokens,
                    CachedTokens = u.CachedTokens + c.CachedTokens,
                    OutputTokens = u.OutputTokens + c.OutputTokens,
                };
            }
        }

        return new CostsView
        {
            By = by,
            Groups = [.. groups.Values.OrderBy(g => g.Key, StringComparer.Ordinal)],
            TotalUsd = Math.Round(total, 6),
            UnknownPriceModels = [.. unknown.Values.OrderBy(u => u.Model, StringComparer.Ordinal)],
            PricesDate = prices.Date,
        };
    }
}

/// <summary>The JSON of <c>batchpilot costs --json</c>.</summary>
internal sealed record CostsView
{
    public required string By { get; init; }

    public required List<CostGroup> Groups { get; init; }

    /// <summary>Sum over priced jobs only.</summary>
    public required decimal TotalUsd { get; init; }

    public required List<UnknownPriceModel> UnknownPriceModels { get; init; }

    public required string PricesDate { get; init; }
}

/// <summary>One line of the costs report.</summary>
internal sealed record CostGroup
{
    public required string Key { get; init; }

    public int Jobs { get; init; }

    public long InputTokens { get; init; }

    public long CachedTokens { get; init; }

    public long OutputTokens { get; init; }

    /// <summary>Cost of the priced jobs of the group; null when none is priced (written as null, never omitted).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public required decimal? CostUsd { get; init; }

    /// <summary>Jobs of the group whose model has no price.</summary>
    public int UnpricedJobs { get; init; }
}

/// <summary>A model without a price, with the usage left out of the totals.</summary>
internal sealed record UnknownPriceModel
{
    public required string Model { get; init; }

    public int Jobs { get; init; }

    public long InputTokens { get; init; }

    public long CachedTokens { get; init; }

    public long OutputTokens { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(EstimateView))]
[JsonSerializable(typeof(ComparisonEstimateView))]
[JsonSerializable(typeof(CostsView))]
internal sealed partial class CostJson : JsonSerializerContext;
