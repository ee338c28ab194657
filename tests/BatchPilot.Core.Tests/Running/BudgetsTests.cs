using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Pricing;
using BatchPilot.Running;
using BatchPilot.Storage;

namespace BatchPilot.Core.Tests.Running;

public sealed class BudgetsTests
{
    [Fact]
    public void Refusal_OfAJobBudget_IsOneLineWithTheBudgetTheSpendTheEstimateAndHowToContinue()
    {
        var refusal = new BudgetRefusal
        {
            JobId = "job-7f3a9c",
            Kind = BudgetKind.Job,
            LimitUsd = 1m,
            Spent = new Spend(0.7312m, 0.1m),
            NextEstimateUsd = 0.25m,
            NextRequests = 50,
            HeldItems = 150,
        };

        Assert.Equal(
            "the job budget of $1.00 would be passed: $0.73 spent and $0.10 reserved so far, and the next batch (50 requests) is estimated at $0.25, so it was not sent; 150 items stay pending. "
            + "To continue, raise the budget: rerun the same command with --budget 1.09 or more, or 'batchpilot resume job-7f3a9c --budget 1.09'",
            refusal.Message);
        Assert.DoesNotContain('\n', refusal.Message);
    }

    [Fact]
    public void Refusal_OfTheDailyBudget_SaysWhenAndHowToContinue()
    {
        var refusal = new BudgetRefusal
        {
            JobId = "job-1",
            Kind = BudgetKind.Daily,
            LimitUsd = 5m,
            Spent = new Spend(4.9m, 0),
            NextEstimateUsd = 0.000036m,
            NextRequests = 1,
            HeldItems = 1,
            Sync = true,
        };

        Assert.Equal(
            "the daily budget of $5.00 (budget.daily_usd) would be passed: $4.90 spent and $0.00 reserved today (UTC, all jobs), and the next chunk of sync requests (1 request) is estimated at $0.000036, so it was not sent; 1 item stay pending. "
            + "To continue, run 'batchpilot resume job-1' after midnight UTC, or raise budget.daily_usd in config/user.yaml",
            refusal.Message);
    }

    [Theory]
    [InlineData("1.25", "$1.25")]
    [InlineData("0.0042", "$0.0042")]
    [InlineData("0.0000361", "$0.000036")]
    [InlineData("0", "$0.00")]
    public void Money_ShowsCentsOrSmallAmountsReadably(string value, string expected)
    {
        Assert.Equal(expected, Budgets.Money(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Limits_Refuses_TheJobBudgetFirst_ThenTheDailyOne_AndToleratesRounding()
    {
        var spend = new SpendSnapshot(new Spend(0.5m, 0.2m), new Spend(3m, 0));
        var limits = new BudgetLimits { AmountUsd = 0.3m, JobLimitUsd = 1m, DailyLimitUsd = 3.2m };

        Assert.Equal(BudgetKind.Daily, limits.Refuses(spend));
        Assert.Equal(BudgetKind.Job, (limits with { AmountUsd = 0.31m }).Refuses(spend));
        Assert.Null((limits with { DailyLimitUsd = null }).Refuses(spend));
        Assert.Null((limits with { AmountUsd = 0.3000000001m, DailyLimitUsd = null }).Refuses(spend));
    }

    [Fact]
    public void JobCosts_PriceEachBatchAtItsApi_AndCacheHitsAtZero()
    {
        // gpt-4o-mini: 0.15 / 0.60 standard, 0.075 / 0.30 batch (USD per 1M tokens)
        var spec = new JobSpec { InputPath = "a", InputSha256 = "x", Provider = "openai", Model = "gpt-4o-mini", Prompt = "p", Endpoint = "emulator" };
        var batch = new BatchRecord { Id = 1, JobId = "j", Number = 1, State = BatchState.Collected, Token = "t", RequestCount = 1, ProviderStatus = "completed", Usage = new TokenUsage(1_000_000, 1_000_000) };
        var sync = batch with { Id = 2, ProviderStatus = SyncRunner.SyncStatus };
        var cached = new ItemRecord { JobId = "j", Seq = 1, CustomId = "c", SourceRow = 2, Values = [], FromCache = true, Status = ItemStatus.Succeeded };

        Assert.Equal(0.375m, JobCosts.OfBatch(spec, batch, PriceTable.Default));
        Assert.Equal(0.75m, JobCosts.OfBatch(spec, sync, PriceTable.Default));
        Assert.Equal(1.125m, JobCosts.OfJob(spec, [batch, sync], PriceTable.Default));
        Assert.Equal(0m, JobCosts.OfItem(spec, cached, null, PriceTable.Default));
        Assert.Null(JobCosts.OfJob(spec with { Model = "mystery-1" }, [batch], PriceTable.Default));
    }
}
