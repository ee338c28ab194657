using BatchPilot.Errors;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Pricing;
using BatchPilot.Providers;
using BatchPilot.Running;

namespace BatchPilot.Core.Tests;

public sealed class JobSpecTests
{
    private static JobSpec Spec() => new()
    {
        InputPath = "a.csv",
        InputSha256 = "abc",
        Provider = "openai",
        Model = "gpt-4o-mini",
        Prompt = "{{x}}",
        Endpoint = "emulator",
    };

    [Fact]
    public void Fingerprint_IsStable_AndChangesWithEveryInputThatChangesTheRequests()
    {
        var baseline = Spec().Fingerprint();

        Assert.Equal(baseline, Spec().Fingerprint());
        Assert.Equal(baseline, (Spec() with { InputPath = "moved/a.csv" }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { InputSha256 = "abd" }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { Model = "gpt-4o" }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { Prompt = "{{x}} " }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { System = "be brief" }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { MaxTokens = 5 }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { Temperature = 0.5 }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { StartRow = 2 }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { EndRow = 2 }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { IdColumn = "id" }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { Endpoint = "https://api.openai.com/v1" }).Fingerprint());
    }

    [Theory]
    [InlineData("claude-haiku-4-5", "anthropic")]
    [InlineData("Claude-3-5-haiku-20241022", "anthropic")]
    [InlineData("gpt-4o-mini", "openai")]
    [InlineData("o3-mini", "openai")]
    public void FromModel_PicksTheProvider(string model, string provider) => Assert.Equal(provider, ProviderNames.FromModel(model));

    [Theory]
    [InlineData("row-1", true)]
    [InlineData("A_b-9", true)]
    [InlineData("has space", false)]
    [InlineData("é", false)]
    [InlineData("", false)]
    public void IsValidCustomId_FollowsAnthropicsPattern(string id, bool valid)
    {
        Assert.Equal(valid, JobIngest.IsValidCustomId(id));
        Assert.False(JobIngest.IsValidCustomId(new string('a', 65)));
        Assert.True(JobIngest.IsValidCustomId(new string('a', 64)));
    }

    [Fact]
    public void PriceTable_BatchCostIsHalf_CachedTokensPricedAsCached_UnknownModelHasNoPrice()
    {
        var usage = new TokenUsage(1_000_000, 1_000_000, 0);

        Assert.Equal(0.75m, PriceTable.Default.Cost("gpt-4o-mini", usage, batch: false));
        Assert.Equal(0.375m, PriceTable.Default.Cost("gpt-4o-mini", usage, batch: true));
        Assert.Equal(0.375m, PriceTable.Default.Cost("gpt-4o-mini-2024-07-18", usage, batch: true));
        Assert.Equal(0.0375m + (0.075m / 2 / 2), PriceTable.Default.Cost("gpt-4o-mini", new TokenUsage(1_000_000, 0, 500_000), batch: true));
        Assert.Null(PriceTable.Default.Cost("my-local-llama", usage, batch: true));
        Assert.Equal(3.0m, PriceTable.Default.Cost("claude-haiku-4-5-20251001", usage, batch: true));
    }

    [Fact]
    public void ToUserLine_HasFileRowFieldMessageAndHint()
    {
        var ex = new InputException("the id is empty", file: "in.csv", row: 7, field: "id", hint: "give every row an id");

        Assert.Equal("in.csv, row 7: 'id': the id is empty. Give every row an id.", ex.ToUserLine());
        Assert.Equal("bad value.", new InputException("bad value").ToUserLine());
    }
}
