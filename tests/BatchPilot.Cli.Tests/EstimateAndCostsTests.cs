using System.Text.Json;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary><c>batchpilot estimate</c> and <c>batchpilot costs</c> on the example file, real SQLite stores and the emulator.</summary>
public sealed class EstimateAndCostsTests
{
    private const string Prompt = "Classify the sentiment of this review: {{review_text}}";

    private static string Reviews() => RepositoryRoot.PathOf("examples", "reviews.csv");

    [Fact]
    public async Task Estimate_ExampleReviews_JsonHasTheDocumentedShape_AndSendsNothing()
    {
        // Given the example file and no key at all
        using var ws = new TempWorkspace();
        var cli = new CliRunner(ws);

        // When estimating a gpt-4o-mini run with batches of 50
        var r = await cli.RunAsync("estimate", Reviews(), "--model", "gpt-4o-mini", "--prompt", Prompt, "--max-tokens", "20", "--batch-size", "50", "--json");

        // Then the JSON has the documented fields, priced, with 200 items in 4 batches, and no store was created
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.StdOut);
        var root = doc.RootElement;
        foreach (var name in new[] { "items", "input_tokens", "output_tokens", "cost_sync_usd", "cost_batch_usd", "batches" })
        {
            Assert.True(root.TryGetProperty(name, out _), name + " missing: " + r.StdOut);
        }

        Assert.Equal(200, root.GetProperty("items").GetInt64());
        Assert.True(root.GetProperty("input_tokens").GetInt64() > 200 * 10);
        Assert.Equal("tokenizer", root.GetProperty("input_tokens_basis").GetString());
        Assert.Equal(200 * 20, root.GetProperty("output_tokens").GetInt64());
        Assert.Equal(4, root.GetProperty("batches").GetInt32());
        var sync = root.GetProperty("cost_sync_usd").GetDecimal();
        var batch = root.GetProperty("cost_batch_usd").GetDecimal();
        Assert.True(sync > 0 && batch > 0 && batch < sync, r.StdOut);
        Assert.Equal(string.Empty, r.StdErr);
        Assert.False(File.Exists(ws.PathOf("jobs.db")), "estimate must not create the store");
    }

    [Theory]
    [InlineData("estimate")]
    [InlineData("run")]
    public async Task Estimate_WithWhereAndLimit_CountsOnlyTheRowsTheRunWouldSend(string verb)
    {
        // Given 30 reviews, of which rows 1, 8, 15, 22 and 29 are about "Product 1"
        using var ws = new TempWorkspace();
        var input = ws.WriteReviews("reviews.csv", 30);
        string[] Args(params string[] selection) => verb == "run"
            ? ["run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--estimate-cost", "--json", .. selection]
            : ["estimate", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--json", .. selection];
        async Task<long> ItemsAsync(params string[] selection)
        {
            var r = await new CliRunner(ws).RunAsync(Args(selection));
            Assert.True(r.ExitCode == 0, r.ToString());
            return JsonDocument.Parse(r.StdOut).RootElement.GetProperty("items").GetInt64();
        }

        // When estimating with --where, --limit, both, and a range
        var counts = (await ItemsAsync("--where", "product=Product 1"), await ItemsAsync("--limit", "7"),
            await ItemsAsync("--where", "product=Product 1", "--limit", "3"), await ItemsAsync("--start-row", "10", "--where", "product=Product 1"));

        // Then each counts the rows the same run would send, as ingest selects them
        Assert.Equal((5L, 7L, 3L, 3L), counts);
    }

    [Fact]
    public async Task Estimate_SeveralModels_GivesEachVariantTheEstimateOfItsOwnJob_AndTheirTotal()
    {
        // Given the example reviews, and the estimates of each model alone
        using var ws = new TempWorkspace();
        var cli = new CliRunner(ws);
        async Task<JsonElement> JsonOf(params string[] args)
        {
            var r = await cli.RunAsync(args);
            Assert.True(r.ExitCode == 0, r.ToString());
            return JsonDocument.Parse(r.StdOut).RootElement.Clone();
        }

        var alone = new[] { await JsonOf("estimate", Reviews(), "--model", "gpt-4o-mini", "--prompt", Prompt, "--max-tokens", "20", "--json"),
            await JsonOf("estimate", Reviews(), "--model", "claude-haiku-4-5", "--prompt", Prompt, "--max-tokens", "20", "--json") };

        // When estimating the comparison of the two, as estimate and as run --estimate-cost
        var both = await JsonOf("estimate", Reviews(), "--model", "gpt-4o-mini,claude-haiku-4-5", "--prompt", Prompt, "--max-tokens", "20", "--json");
        var run = await JsonOf("run", Reviews(), "--model", "gpt-4o-mini,claude-haiku-4-5", "--prompt", Prompt, "--max-tokens", "20", "--estimate-cost", "--json");

        // Then each variant is its model's own estimate, and the total their sum
        static string Compact(JsonElement e) => JsonSerializer.Serialize(e);
        Assert.Equal(Compact(both), Compact(run));
        var variants = both.GetProperty("variants").EnumerateArray().ToList();
        Assert.Equal(["gpt-4o-mini", "claude-haiku-4-5"], variants.Select(v => v.GetProperty("label").GetString()));
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(Compact(alone[i]), Compact(variants[i].GetProperty("estimate")));
        }

        var total = both.GetProperty("total");
        foreach (var field in new[] { "items", "input_tokens", "output_tokens" })
        {
            Assert.Equal(alone.Sum(a => a.GetProperty(field).GetInt64()), total.GetProperty(field).GetInt64());
        }

        Assert.Equal(alone.Sum(a => a.GetProperty("cost_batch_usd").GetDecimal()), total.GetProperty("cost_batch_usd").GetDecimal());
        Assert.Equal(400, total.GetProperty("items").GetInt64());
    }

    [Fact]
    public async Task Estimate_UnknownModel_WarnsAndShowsCostAsUnknown()
    {
        using var ws = new TempWorkspace();

        var json = await new CliRunner(ws).RunAsync("estimate", Reviews(), "--model", "mystery-model-1", "--prompt", Prompt, "--json");
        var human = await new CliRunner(ws).RunAsync("estimate", Reviews(), "--model", "mystery-model-1", "--prompt", Prompt);

        Assert.Equal(0, json.ExitCode);
        Assert.Contains("warning: no price known for model 'mystery-model-1': cost is unknown (not zero).", json.StdErr, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json.StdOut);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("cost_sync_usd").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("cost_batch_usd").ValueKind);
        Assert.Contains("unknown", human.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("$0.00", human.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Estimate_PriceOverrideInUserYaml_IsUsed()
    {
        // Given a price for an unknown model in config/user.yaml
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", "prices:\n  my-model: { input: 1000000, output: 0 }\n");
        var input = ws.WriteReviews("reviews.csv", 3);

        // When estimating
        var r = await new CliRunner(ws).RunAsync("estimate", input, "--model", "my-model", "--prompt", "{{review_text}}", "--json");

        // Then the sync cost is one dollar per input token, batch half of it
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.StdOut);
        var tokens = doc.RootElement.GetProperty("input_tokens").GetInt64();
        Assert.Equal(tokens, doc.RootElement.GetProperty("cost_sync_usd").GetDecimal());
        Assert.Equal(tokens / 2m, doc.RootElement.GetProperty("cost_batch_usd").GetDecimal());
    }

    [Fact]
    public async Task Costs_AfterARunOnTheEmulator_ReportsTheJobsActualCost_AndObservedOutputFeedsTheEstimate()
    {
        // Given a finished run on the emulator
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 5);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var run = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--out", ws.PathOf("out.csv"));
        Assert.True(run.ExitCode == 0, run.ToString());

        // When costs are listed by model and by job
        var byModel = await cli.RunAsync("costs", "--json");
        var byJob = await cli.RunAsync("costs", "--by", "job", "--json");
        var estimate = await cli.RunAsync("estimate", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--json");

        // Then the model's line carries the reported tokens at batch prices, equal to the job's cost in 'jobs'
        Assert.True(byModel.ExitCode == 0, byModel.ToString());
        using var doc = JsonDocument.Parse(byModel.StdOut);
        var group = Assert.Single(doc.RootElement.GetProperty("groups").EnumerateArray());
        Assert.Equal("gpt-4o-mini", group.GetProperty("key").GetString());
        var inTokens = group.GetProperty("input_tokens").GetInt64();
        var outTokens = group.GetProperty("output_tokens").GetInt64();
        var cached = group.GetProperty("cached_tokens").GetInt64();
        Assert.True(inTokens > 0 && outTokens > 0);
        var expected = Math.Round((((inTokens - cached) * 0.075m) + (cached * 0.0375m) + (outTokens * 0.30m)) / 1_000_000m, 6);
        Assert.Equal(expected, group.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(expected, doc.RootElement.GetProperty("total_usd").GetDecimal());
        Assert.Empty(doc.RootElement.GetProperty("unknown_price_models").EnumerateArray());
        using var jobDoc = JsonDocument.Parse(byJob.StdOut);
        Assert.Single(jobDoc.RootElement.GetProperty("groups").EnumerateArray());

        // And a new estimate of the same prompt uses the observed output average
        Assert.True(estimate.ExitCode == 0, estimate.ToString());
        using var est = JsonDocument.Parse(estimate.StdOut);
        Assert.Equal("observed", est.RootElement.GetProperty("output_tokens_basis").GetString());
        Assert.Equal(outTokens, est.RootElement.GetProperty("output_tokens").GetInt64());
    }

    [Fact]
    public async Task Costs_UnknownModel_ListedApartNotAsZero()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 2);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var run = await cli.RunAsync("run", input, "--model", "mystery-model-1", "--prompt", Prompt, "--out", ws.PathOf("out.csv"));
        Assert.True(run.ExitCode == 0, run.ToString());

        var r = await cli.RunAsync("costs", "--json");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("warning: no price known for model 'mystery-model-1' (1 job(s)): its cost is unknown and left out of the totals.", r.StdErr, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(r.StdOut);
        var group = Assert.Single(doc.RootElement.GetProperty("groups").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, group.GetProperty("cost_usd").ValueKind);
        var unknown = Assert.Single(doc.RootElement.GetProperty("unknown_price_models").EnumerateArray());
        Assert.Equal("mystery-model-1", unknown.GetProperty("model").GetString());
    }
}
