using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Pricing;
using BatchPilot.Running;
using BatchPilot.Storage;

namespace BatchPilot.Operations;

/// <summary>
/// A job's own budget: refused on a model without a price, stored on the job with a history row (kept across reruns
/// and resumes), and enforced by the engine and the sync runner. Shared by <c>run --budget</c>, <c>resume --budget</c>
/// and the dashboard's budget field and "raise the budget" action.
/// </summary>
public static class JobBudgets
{
    /// <summary>Refuses, before anything is stored or sent, a budget (the job's or the daily one) on a model without a price.</summary>
    /// <param name="prices">The price table in force.</param>
    /// <param name="dailyBudgetUsd">The daily budget (<c>budget.daily_usd</c>), if set.</param>
    /// <param name="model">The job's model.</param>
    /// <param name="jobBudgetUsd">The job's budget as it will be, if any.</param>
    /// <param name="field">The field that sets the job's budget (<c>--budget</c>, <c>budget</c>).</param>
    /// <exception cref="InputException">A budget applies and the model has no price.</exception>
    public static void EnsurePriced(PriceTable prices, decimal? dailyBudgetUsd, string model, decimal? jobBudgetUsd, string field = "--budget")
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(model);
        if ((jobBudgetUsd is not null || dailyBudgetUsd is not null) && prices.Find(model) is null)
        {
            throw Budgets.NeedsPrice(model, jobBudgetUsd is not null ? field : "budget.daily_usd");
        }
    }

    /// <summary>
    /// Sets (or with null removes) the job's budget when it differs from the stored one, with the history row
    /// "Budget set to $X (SOURCE)." or "Budget removed (SOURCE).". Returns the job as stored and that sentence (null when
    /// nothing changed). The engine reads the budget again before each submission pass, so a raise lets the held
    /// batches go on the next pass.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative budget.</exception>
    public static async Task<(JobRecord Job, string? Change)> SetAsync(IJobStore store, JobRecord job, decimal? budgetUsd, string source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        if (budgetUsd is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(budgetUsd), budgetUsd, "a budget cannot be negative");
        }

        if (budgetUsd == job.BudgetUsd)
        {
            return (job, null);
        }

        var reason = budgetUsd is { } usd ? $"Budget set to {Budgets.Money(usd)} ({source})." : $"Budget removed ({source}).";
        await store.SetJobBudgetAsync(job.Id, budgetUsd, reason, cancellationToken).ConfigureAwait(false);
        return (await store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? job, reason);
    }

    /// <summary>Midnight UTC of the day <paramref name="now"/> falls in: the start of what a daily budget counts.</summary>
    public static DateTimeOffset DayStart(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero);
    }
}
