using BatchPilot.Items;
using BatchPilot.Pricing;

namespace BatchPilot.Core.Tests.Pricing;

public sealed class PriceTableOverrideTests
{
    [Fact]
    public void WithOverrides_KnownModel_ReplacesOnlyTheGivenFields()
    {
        var table = PriceTable.Default.WithOverrides(new Dictionary<string, ModelPriceOverride> { ["gpt-4o-mini"] = new() { Output = 1.00m } });

        var p = table.Find("gpt-4o-mini-2024-07-18")!;

        Assert.Equal(new ModelPrice(0.15m, 0.075m, 1.00m, 0.075m, 0.50m), p);
        Assert.Equal(0.60m, PriceTable.Default.Find("gpt-4o-mini")!.Output);
    }

    [Fact]
    public void WithOverrides_NewModel_DefaultsCachedToInputAndBatchToHalf()
    {
        var table = PriceTable.Default.WithOverrides(new Dictionary<string, ModelPriceOverride> { ["my-model"] = new() { Input = 2m, Output = 4m } });

        Assert.Equal(new ModelPrice(2m, 2m, 4m, 1m, 2m), table.Find("my-model"));
        Assert.Equal(4m, table.Cost("my-model", new TokenUsage(1_000_000, 500_000), batch: false));
    }

    [Fact]
    public void WithOverrides_NewModelWithoutOutput_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            PriceTable.Default.WithOverrides(new Dictionary<string, ModelPriceOverride> { ["my-model"] = new() { Input = 2m } }));

        Assert.StartsWith("my-model is not in the built-in price table: give at least its input and output prices", ex.Message, StringComparison.Ordinal);
    }
}
