using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Pricing;
using BatchPilot.Providers;
using BatchPilot.Running;

namespace BatchPilot.Core.Tests.Operations;

public sealed class JobEstimatorTests
{
    private static JobSpec Spec(string model, int? maxTokens = null) => new()
    {
        InputPath = "in.csv",
        InputSha256 = string.Empty,
        Provider = ProviderNames.FromModel(model),
        Model = model,
        Prompt = "{{text}}",
        MaxTokens = maxTokens,
        Endpoint = "test",
    };

    [Fact]
    public void Of_MaxTokens_PricesSyncAndBatchFromTheTable()
    {
        // gpt-4o-mini: 0.15 / 0.60 standard, 0.075 / 0.30 batch per 1M tokens
        var e = JobEstimator.Of(Spec("gpt-4o-mini", maxTokens: 100), items: 10, inputTokens: 1000, batches: 1);

        Assert.Equal(1000, e.OutputTokens);
        Assert.Equal(OutputTokenSource.MaxTokens, e.OutputTokensSource);
        Assert.Equal(0.00075m, e.CostSyncUsd);
        Assert.Equal(0.000375m, e.CostBatchUsd);
    }

    [Fact]
    public void Of_ObservedAverage_WinsOverMaxTokens()
    {
        var e = JobEstimator.Of(Spec("gpt-4o-mini", maxTokens: 100), items: 10, inputTokens: 0, batches: 1, observed: new ObservedOutput(12.5, 2, 40));

        Assert.Equal(125, e.OutputTokens);
        Assert.Equal(OutputTokenSource.Observed, e.OutputTokensSource);
        Assert.Equal(2, e.ObservedJobs);
    }

    [Fact]
    public void Of_UnknownModel_CostIsNullNotZero()
    {
        var e = JobEstimator.Of(Spec("mystery-1"), items: 3, inputTokens: 30, batches: 1);

        Assert.Null(e.CostSyncUsd);
        Assert.Null(e.CostBatchUsd);
        Assert.False(e.PriceKnown);
        Assert.Equal(3 * CostEstimator.DefaultOutputTokens, e.OutputTokens);
    }

    [Fact]
    public void Estimate_Rows_CountsTokensAndSplitsBatchesLikePlanning()
    {
        // Given 7 rows "hello world", batches of at most 3 requests, rows 2..7 selected
        var rows = Enumerable.Range(1, 7).Select(i => new SourceRow(i, i + 1, ["hello world"]));
        var options = new EstimateOptions { Limits = new ProviderLimits(3, 1_000_000), Measure = _ => 100 };

        var e = JobEstimator.Estimate(Spec("gpt-4o") with { StartRow = 2 }, ["text"], rows, options);

        // Then 6 items of 3 + 1 + 2 + 3 = 9 tokens each, in 2 batches
        Assert.Equal(6, e.Items);
        Assert.Equal(54, e.InputTokens);
        Assert.Equal(TokenCountBasis.Exact, e.InputTokensBasis);
        Assert.Equal(2, e.Batches);
    }

    [Fact]
    public void Estimate_TokenLimitPerBatch_SplitsEarlier()
    {
        // 400-byte lines ≈ 100 estimated tokens each; at most 250 tokens per batch → 2 per batch
        var rows = Enumerable.Range(1, 5).Select(i => new SourceRow(i, i + 1, ["x"]));
        var options = new EstimateOptions { Limits = new ProviderLimits(50_000, 1_000_000), Measure = _ => 400, MaxTokensPerBatch = 250 };

        var e = JobEstimator.Estimate(Spec("gpt-4o"), ["text"], rows, options);

        Assert.Equal(3, e.Batches);
    }
}
