using System.Collections.Concurrent;
using System.Globalization;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Pricing;
using BatchPilot.Storage;

namespace BatchPilot.Running;

/// <summary>Prices, the daily budget and the cache mode: what the engine and the sync runner need to control spend.</summary>
public sealed record CostOptions
{
    /// <summary>The price table (estimates, reservations, settlements).</summary>
    public PriceTable Prices { get; init; } = PriceTable.Default;

    /// <summary>The most all jobs together may spend per UTC day (<c>budget.daily_usd</c>), if set.</summary>
    public decimal? DailyBudgetUsd { get; init; }

    /// <summary>How the response cache is used.</summary>
    public CacheMode Cache { get; init; } = CacheMode.ReadWrite;

    /// <summary>The budget alerts already printed (shared by the engines and runners of one process, so each prints once).</summary>
    public BudgetAlerts Alerts { get; init; } = new();
}

/// <summary>Remembers which budget alerts were printed. Thread-safe.</summary>
public sealed class BudgetAlerts
{
    private readonly ConcurrentDictionary<string, bool> _seen = new(StringComparer.Ordinal);

    /// <summary>True the first time a key is marked.</summary>
    public bool TryMark(string key) => _seen.TryAdd(key, true);
}

/// <summary>Why a batch (or chunk of sync requests) was not sent: it would have passed a budget.</summary>
public sealed record BudgetRefusal
{
    /// <summary>The job.</summary>
    public required string JobId { get; init; }

    /// <summary>The budget that would have been passed.</summary>
    public required BudgetKind Kind { get; init; }

    /// <summary>That budget, in USD.</summary>
    public required decimal LimitUsd { get; init; }

    /// <summary>What the budget had counted already (the job's spend, or the day's across all jobs).</summary>
    public required Spend Spent { get; init; }

    /// <summary>The estimate of the batch that was not sent.</summary>
    public required decimal NextEstimateUsd { get; init; }

    /// <summary>Requests in the batch that was not sent.</summary>
    public required int NextRequests { get; init; }

    /// <summary>Items left waiting for more budget (they stay pending, planned or not).</summary>
    public required long HeldItems { get; init; }

    /// <summary>True when the refused batch was a chunk of synchronous requests.</summary>
    public bool Sync { get; init; }

    private string Next => (Sync ? "the next chunk of sync requests (" : "the next batch (") + Plural(NextRequests, "request") + ")";

    /// <summary>A short note for progress output, after the batch's name: why it is held back.</summary>
    public string Note => $"is held back: its estimate of {Budgets.Money(NextEstimateUsd)} would pass the {(Kind == BudgetKind.Job ? "job budget" : "daily budget")} of {Budgets.Money(LimitUsd)} ({Budgets.Money(Spent.TotalUsd)} already counted).";

    /// <summary>The smallest job budget that lets the next batch go, rounded up to a cent (or a micro-dollar below one cent).</summary>
    public decimal SuggestedBudgetUsd => Budgets.RoundUp(Spent.TotalUsd + NextEstimateUsd);

    /// <summary>The one line shown to the user: the budget, the spend so far, the next batch's estimate and how to continue.</summary>
    public string Message => Kind == BudgetKind.Job
        ? $"the job budget of {Budgets.Money(LimitUsd)} would be passed: {Budgets.Money(Spent.ActualUsd)} spent and {Budgets.Money(Spent.ReservedUsd)} reserved so far, "
          + $"and {Next} is estimated at {Budgets.Money(NextEstimateUsd)}, so it was not sent; {Plural(HeldItems, "item")} stay pending. "
          + $"To continue, raise the budget: rerun the same command with --budget {Budgets.Amount(SuggestedBudgetUsd)} or more, or 'batchpilot resume {JobId} --budget {Budgets.Amount(SuggestedBudgetUsd)}'"
        : $"the daily budget of {Budgets.Money(LimitUsd)} (budget.daily_usd) would be passed: {Budgets.Money(Spent.ActualUsd)} spent and {Budgets.Money(Spent.ReservedUsd)} reserved today (UTC, all jobs), "
          + $"and {Next} is estimated at {Budgets.Money(NextEstimateUsd)}, so it was not sent; {Plural(HeldItems, "item")} stay pending. "
          + $"To continue, run 'batchpilot resume {JobId}' after midnight UTC, or raise budget.daily_usd in config/user.yaml";

    private static string Plural(long n, string word) => n.ToString(CultureInfo.InvariantCulture) + " " + word + (n == 1 ? string.Empty : "s");
}

/// <summary>Formatting and rounding of budget amounts.</summary>
public static class Budgets
{
    /// <summary>The share of a budget at which an alert is printed.</summary>
    public const decimal AlertShare = 0.8m;

    /// <summary>An amount as shown in messages: <c>$1.25</c>, <c>$0.0042</c>, <c>$0.000036</c>.</summary>
    public static string Money(decimal usd) => "$" + Amount(usd);

    /// <summary>An amount as typed on a command line: cents, or up to six decimals below one cent.</summary>
    public static string Amount(decimal usd) =>
        Math.Round(usd, usd >= 0.01m || usd == 0 ? 2 : 6, MidpointRounding.AwayFromZero).ToString(usd >= 0.01m || usd == 0 ? "0.00" : "0.######", CultureInfo.InvariantCulture);

    /// <summary>Rounds up to a cent, or to a micro-dollar below one cent.</summary>
    public static decimal RoundUp(decimal usd)
    {
        var unit = usd >= 0.01m ? 100m : 1_000_000m;
        return Math.Ceiling(usd * unit) / unit;
    }

    /// <summary>The one-line error for a budget on a model without a price: a budget cannot be enforced without one.</summary>
    public static InputException NeedsPrice(string model, string field) => new(
        $"no price is known for model '{model}', so a budget cannot be enforced (its cost would be unknown, not zero)",
        field: field,
        hint: $"add prices.{model} (input and output, USD per 1M tokens) in config/user.yaml, or drop the budget");
}

/// <summary>
/// Applies the job budget and the daily budget for the engine and the sync runner: estimates a batch with the same
/// estimator as <c>batchpilot estimate</c>, builds the reservation request, explains refusals and prints the 80 % alert.
/// </summary>
internal sealed class BudgetGuard
{
    private readonly IJobStore _store;
    private readonly TimeProvider _time;
    private readonly IEngineObserver _observer;
    private readonly CostOptions _costs;
    private readonly ConcurrentDictionary<string, ObservedOutput?> _observed = new(StringComparer.Ordinal);

    public BudgetGuard(IJobStore store, TimeProvider time, IEngineObserver observer, CostOptions costs)
    {
        _store = store;
        _time = time;
        _observer = observer;
        _costs = costs;
    }

    public PriceTable Prices => _costs.Prices;

    /// <summary>True when a budget applies to the job (its own, or the daily one).</summary>
    public bool Applies(JobRecord job) => job.BudgetUsd is not null || _costs.DailyBudgetUsd is not null;

    /// <summary>Refuses a budgeted job whose model has no price.</summary>
    /// <exception cref="InputException">A budget applies and the model has no price.</exception>
    public void EnsurePriced(JobRecord job)
    {
        if (Applies(job) && _costs.Prices.Find(job.Spec.Model) is null)
        {
            throw Budgets.NeedsPrice(job.Spec.Model, job.BudgetUsd is not null ? "--budget" : "budget.daily_usd");
        }
    }

    /// <summary>Midnight UTC of today.</summary>
    public DateTimeOffset DayStart() => JobBudgets.DayStart(_time.GetUtcNow());

    /// <summary>The estimate of a batch from its items and input tokens (observed output of earlier runs, else max tokens).</summary>
    public async Task<decimal> EstimateAsync(JobRecord job, long items, long inputTokens, bool batchApi, CancellationToken cancellationToken)
    {
        EnsurePriced(job);
        if (!_observed.TryGetValue(job.Id, out var observed))
        {
            observed = await JobEstimator.ObservedOutputAsync(_store, job.Spec, cancellationToken: cancellationToken).ConfigureAwait(false);
            _observed[job.Id] = observed;
        }

        var e = JobEstimator.Of(job.Spec, items, inputTokens, 1, observed, _costs.Prices);
        return (batchApi ? e.CostBatchUsd : e.CostSyncUsd) ?? 0;
    }

    /// <summary>The reservation request of an amount for the job (no limits when no budget applies).</summary>
    public BudgetLimits Limits(JobRecord job, decimal? amount) => new()
    {
        AmountUsd = amount,
        JobLimitUsd = job.BudgetUsd,
        DailyLimitUsd = _costs.DailyBudgetUsd,
        DayStart = DayStart(),
    };

    /// <summary>The refusal to report when <paramref name="kind"/> would be passed.</summary>
    public BudgetRefusal Refusal(JobRecord job, BudgetKind kind, SpendSnapshot spend, decimal next, int requests, long held, bool sync) => new()
    {
        Sync = sync,
        JobId = job.Id,
        Kind = kind,
        LimitUsd = kind == BudgetKind.Job ? job.BudgetUsd!.Value : _costs.DailyBudgetUsd!.Value,
        Spent = kind == BudgetKind.Job ? spend.Job : spend.Day,
        NextEstimateUsd = next,
        NextRequests = requests,
        HeldItems = held,
    };

    /// <summary>The refusal a sync chunk's reservation of <paramref name="amount"/> would meet now, or null (checked again atomically by the reservation).</summary>
    public async Task<BudgetRefusal?> PrecheckAsync(JobRecord job, decimal amount, int requests, long held, CancellationToken cancellationToken)
    {
        var limits = Limits(job, amount);
        var spend = await _store.GetSpendAsync(job.Id, limits.DayStart, cancellationToken).ConfigureAwait(false);
        return limits.Refuses(spend) is { } kind ? Refusal(job, kind, spend, amount, requests, held, sync: true) : null;
    }

    /// <summary>Prints (once per budget) the alert when spend plus reservations reach 80 % of a budget, with a history row.</summary>
    public async Task CheckAlertAsync(JobRecord job, CancellationToken cancellationToken)
    {
        if (!Applies(job))
        {
            return;
        }

        var day = DayStart();
        var spend = await _store.GetSpendAsync(job.Id, day, cancellationToken).ConfigureAwait(false);
        if (job.BudgetUsd is { } limit)
        {
            await AlertAsync(job, $"job:{job.Id}:{limit.ToString(CultureInfo.InvariantCulture)}", "the job budget", limit, spend.Job, "for batches in flight", cancellationToken).ConfigureAwait(false);
        }

        if (_costs.DailyBudgetUsd is { } daily)
        {
            await AlertAsync(job, $"day:{day:yyyy-MM-dd}:{daily.ToString(CultureInfo.InvariantCulture)}", "today's budget (budget.daily_usd, all jobs)", daily, spend.Day, "for batches in flight", cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task AlertAsync(JobRecord job, string key, string what, decimal limit, Spend spend, string reservedFor, CancellationToken cancellationToken)
    {
        if (limit <= 0 || spend.TotalUsd < limit * Budgets.AlertShare || !_costs.Alerts.TryMark(key))
        {
            return;
        }

        var share = Math.Floor(spend.TotalUsd / limit * 100);
        var message = $"budget alert: {share.ToString("0", CultureInfo.InvariantCulture)} % of {what} of {Budgets.Money(limit)} is used "
            + $"({Budgets.Money(spend.ActualUsd)} spent, {Budgets.Money(spend.ReservedUsd)} reserved {reservedFor}).";
        _observer.Warn(message);
        await _store.AddHistoryAsync(new HistoryEntry { JobId = job.Id, At = _time.GetUtcNow(), Kind = "job", State = "BudgetAlert", Reason = message }, cancellationToken).ConfigureAwait(false);
    }
}
