using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using BatchPilot.Emulator;
using BatchPilot.Running;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// The response cache and budgets end to end: the real command tree, a real SQLite store, and the emulator over
/// loopback, whose own request counters and batch list prove what was (not) sent.
/// </summary>
public sealed class CacheAndBudgetTests
{
    private const string Prompt = "{{review_text}}";
    private const string ChatCompletions = "POST /v1/chat/completions";

    /// <summary>
    /// gpt-4o-mini at $1 per output token and nothing for input, in both modes: an estimate is then max tokens × items
    /// dollars, and an actual cost the output tokens the emulator reported (16 for each review below).
    /// </summary>
    private const string DollarPerOutputToken = """
        prices:
          gpt-4o-mini: { input: 0, cached_input: 0, output: 1000000, batch_input: 0, batch_output: 1000000 }
        """;

    private static CliRunner Cli(TempWorkspace ws, EmulatorHost emu) => new CliRunner(ws).WithEmulator(emu);

    private static string[] Run(TempWorkspace ws, string input, string output, params string[] extra) =>
        ["run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--out", ws.PathOf(output), "--check-interval", "0.2", "--json", .. extra];

    private static JsonElement Json(CliResult r) => JsonDocument.Parse(r.StdOut).RootElement;

    private static long Long(JsonElement e, string name) => e.GetProperty(name).GetInt64();

    [Fact]
    public async Task Run_AnotherJobWithTheSameRequests_IsAnsweredFromTheCache_SendingNothing_AtNoCost()
    {
        // Given a job that ran once through the Batch API
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);
        var input = ws.WriteReviews("in.csv", 5);
        var first = await cli.RunAsync(Run(ws, input, "first.csv"));
        Assert.True(first.ExitCode == 0, first.ToString());

        // When a new job sends the same requests
        var second = await cli.RunAsync(Run(ws, input, "second.csv", "--new"));

        // Then no second batch was created, every item came from the cache, and it cost nothing
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Single(emu.Server.ListBatches());
        var view = Json(second);
        Assert.Equal((5L, 5L, 0L), (Long(view, "succeeded"), Long(view, "from_cache"), Long(view, "batches")));
        Assert.Equal(0m, view.GetProperty("cost_usd").GetDecimal());
        Assert.True(Json(first).GetProperty("cost_usd").GetDecimal() > 0);
        var before = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("first.csv")));
        var after = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("second.csv")));
        Assert.Equal(before.Skip(1).Select(r => r[3]), after.Skip(1).Select(r => r[3]));
        Assert.Equal("cost_usd", after[0][^1]);
        Assert.All(after.Skip(1), r => Assert.Equal("0", r[^1]));
        Assert.All(before.Skip(1), r => Assert.True(decimal.Parse(r[^1], CultureInfo.InvariantCulture) > 0, r[^1]));
        Assert.Contains("5 item(s) answered from the response cache: nothing sent for them, no cost.", second.StdErr, StringComparison.Ordinal);

        // And jobs and status show the cached items
        var jobs = Json(await cli.RunAsync("jobs", "--json"));
        Assert.Equal(5L, Long(jobs[0], "from_cache"));
        var human = await cli.RunAsync("status", view.GetProperty("id").GetString()!);
        Assert.Contains("Answered from cache", human.StdOut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("batch", "sync")]
    [InlineData("sync", "batch")]
    public async Task Run_InTheOtherMode_IsAnsweredFromTheCache(string firstMode, string secondMode)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);
        var input = ws.WriteReviews("in.csv", 4);
        var first = await cli.RunAsync(Run(ws, input, "first.csv", "--mode", firstMode));
        Assert.True(first.ExitCode == 0, first.ToString());
        var batches = emu.Server.ListBatches().Count;
        var calls = emu.Server.Counters[ChatCompletions];
        Assert.Equal(4, batches * 4 + calls);

        var second = await cli.RunAsync(Run(ws, input, "second.csv", "--mode", secondMode));

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal((batches, calls), (emu.Server.ListBatches().Count, emu.Server.Counters[ChatCompletions]));
        Assert.Equal(4L, Long(Json(second), "from_cache"));
        Assert.Equal(secondMode, Json(second).GetProperty("mode").GetString());
    }

    [Theory]
    [InlineData("--temperature", "0.5")]
    [InlineData("--max-tokens", "30")]
    [InlineData("--system", "Answer in French.")]
    public async Task Run_WithAChangedParameter_MissesTheCache(string option, string value)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);
        var input = ws.WriteReviews("in.csv", 3);
        Assert.Equal(0, (await cli.RunAsync(Run(ws, input, "first.csv"))).ExitCode);

        var second = await cli.RunAsync(Run(ws, input, "second.csv", option, value));

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(2, emu.Server.ListBatches().Count);
        Assert.Equal(0L, Long(Json(second), "from_cache"));
    }

    [Fact]
    public async Task Run_WithNoCache_SendsAgain_AndItsAnswersServeTheNextRun()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);
        var input = ws.WriteReviews("in.csv", 3);
        Assert.Equal(0, (await cli.RunAsync(Run(ws, input, "first.csv", "--mode", "sync"))).ExitCode);

        var fresh = await cli.RunAsync(Run(ws, input, "fresh.csv", "--mode", "sync", "--new", "--no-cache"));
        var next = await cli.RunAsync(Run(ws, input, "next.csv", "--mode", "sync", "--new"));

        Assert.True(fresh.ExitCode == 0, fresh.ToString());
        Assert.Equal(0L, Long(Json(fresh), "from_cache"));
        Assert.Equal(3L, Long(Json(next), "from_cache"));
        Assert.Equal(6, emu.Server.Counters[ChatCompletions]);
    }

    [Fact]
    public async Task Run_WithTheCacheDisabledInConfig_NeitherReadsNorWritesIt()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);
        var input = ws.WriteReviews("in.csv", 3);
        Assert.Equal(0, (await cli.RunAsync(Run(ws, input, "warm.csv", "--mode", "sync"))).ExitCode);
        ws.Write("config/user.yaml", "cache:\n  enabled: false\n");

        var notRead = await cli.RunAsync(Run(ws, input, "off1.csv", "--mode", "sync", "--new"));
        var notWritten = await cli.RunAsync(Run(ws, input, "off2.csv", "--mode", "sync", "--new", "--temperature", "0.7"));
        File.Delete(ws.PathOf("config/user.yaml"));
        var on = await cli.RunAsync(Run(ws, input, "on.csv", "--mode", "sync", "--new", "--temperature", "0.7"));

        // The warm cache was not read while off, and what was sent while off was not stored
        Assert.True(notWritten.ExitCode == 0, notWritten.ToString());
        Assert.Equal((0L, 0L, 0L), (Long(Json(notRead), "from_cache"), Long(Json(notWritten), "from_cache"), Long(Json(on), "from_cache")));
        Assert.Equal(12, emu.Server.Counters[ChatCompletions]);
    }

    [Fact]
    public async Task Run_WithABudgetBelowTheEstimate_SubmitsNothing_ExitsWithTheBudgetCode_AndResumeWithMoreContinues()
    {
        // Given prices making the estimate of 5 items at --max-tokens 20 exactly $100
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", DollarPerOutputToken);
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);

        // When the job runs with a budget of $1
        var r = await cli.RunAsync(Run(ws, ws.WriteReviews("in.csv", 5), "out.csv", "--max-tokens", "20", "--budget", "1"));

        // Then nothing reached the provider, the job is resumable, and one line says why and how to continue
        Assert.True(r.ExitCode == ExitCodesOf.Budget, r.ToString());
        Assert.Empty(emu.Server.ListBatches());
        var view = Json(r);
        var id = view.GetProperty("id").GetString()!;
        Assert.Equal((5L, 1m), (Long(view, "pending"), view.GetProperty("budget_usd").GetDecimal()));
        var line = Assert.Single(r.StdErr.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Equal(
            $"error: the job budget of $1.00 would be passed: $0.00 spent and $0.00 reserved so far, and the next batch (5 requests) is estimated at $100.00, so it was not sent; 5 items stay pending. To continue, raise the budget: rerun the same command with --budget 100.00 or more, or 'batchpilot resume {id} --budget 100.00'.",
            line.TrimEnd());
        Assert.True(File.Exists(ws.PathOf("out.csv")));
        var held = Json(await cli.RunAsync("status", id, "--json")).GetProperty("batch_details")[0];
        Assert.Equal(("Planned", 100m), (held.GetProperty("state").GetString(), held.GetProperty("estimate_usd").GetDecimal()));

        // And resume with the suggested budget sends it
        var resumed = await cli.RunAsync("resume", id, "--budget", "100", "--check-interval", "0.2", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Single(emu.Server.ListBatches());
        Assert.Equal(5L, Long(Json(resumed), "succeeded"));
        Assert.Equal(100m, Json(resumed).GetProperty("budget_usd").GetDecimal());
    }

    [Fact]
    public async Task RunSync_WhenActualUsageRunsOverTheBudget_StopsBeforeTheNextChunk()
    {
        // Given chunks of 2 estimated at $2 (--max-tokens 1) that really cost $32 (16 output tokens each), and a $10 budget
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", DollarPerOutputToken);
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);

        var r = await cli.RunAsync(Run(ws, ws.WriteReviews("in.csv", 6), "out.csv", "--mode", "sync", "--batch-size", "2", "--max-tokens", "1", "--budget", "10"));

        // Then the first chunk went, its actual cost counted, and no further request was sent
        Assert.True(r.ExitCode == ExitCodesOf.Budget, r.ToString());
        Assert.Equal(2, emu.Server.Counters[ChatCompletions]);
        var view = Json(r);
        Assert.Equal((2L, 4L), (Long(view, "succeeded"), Long(view, "pending")));
        var actual = view.GetProperty("cost_usd").GetDecimal();
        Assert.True(actual > 10, r.ToString());
        Assert.Contains($"error: the job budget of $10.00 would be passed: ${actual.ToString("0.00", CultureInfo.InvariantCulture)} spent and $0.00 reserved so far, and the next chunk of sync requests (2 requests) is estimated at $2.00", r.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_WhenActualUsageAlreadyPassedTheBudget_SubmitsNoFurtherBatch()
    {
        // Given a batch job whose two batches were admitted on $2 estimates but cost $16 per answer, and one item that failed
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", DollarPerOutputToken);
        var faults = new FaultScenario { Items = [new ItemFaultRule { Error = "server_error", CustomIds = ["row-4"], FirstAttemptOnly = true }] };
        await using var emu = await EmulatorHost.StartAsync(0, faults);
        var cli = Cli(ws, emu);
        var run = await cli.RunAsync(Run(ws, ws.WriteReviews("in.csv", 4), "out.csv", "--batch-size", "2", "--max-tokens", "1", "--budget", "10"));
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal(2, emu.Server.ListBatches().Count);
        Assert.Contains("warning: budget alert:", run.StdErr, StringComparison.Ordinal);

        // When the failed item is resumed under the same budget
        var resumed = await cli.RunAsync("resume", Json(run).GetProperty("id").GetString()!, "--check-interval", "0.2", "--json");

        // Then its new batch is not submitted: the actual spend already passed the budget
        Assert.True(resumed.ExitCode == ExitCodesOf.Budget, resumed.ToString());
        Assert.Equal(2, emu.Server.ListBatches().Count);
        Assert.Contains("error: the job budget of $10.00 would be passed: $48.00 spent", resumed.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_PrintsTheBudgetAlertOnce_When80PercentIsReached()
    {
        // Given three chunks reserving $40 each ($32 actual each) under a $125 budget: the third reservation reaches 83 %
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", DollarPerOutputToken);
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);

        var r = await cli.RunAsync(Run(ws, ws.WriteReviews("in.csv", 6), "out.csv", "--mode", "sync", "--batch-size", "2", "--max-tokens", "20", "--budget", "125"));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(6, emu.Server.Counters[ChatCompletions]);
        var alerts = Regex.Matches(r.StdErr, "warning: budget alert: [0-9]+ % of the job budget of \\$125.00 is used").Count;
        Assert.True(alerts == 1, r.StdErr);
        Assert.Contains("warning: budget alert: 83 % of the job budget of $125.00 is used ($64.00 spent, $40.00 reserved for batches in flight).", r.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_UnderADailyBudget_CountsTheSpendOfEveryJobThatDay()
    {
        // Given a daily budget of $10 already passed by a first job ($32 actual)
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", DollarPerOutputToken + "\nbudget:\n  daily_usd: 10\n");
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);
        var first = await cli.RunAsync(Run(ws, ws.WriteReviews("a.csv", 2), "a.out.csv", "--mode", "sync", "--max-tokens", "1"));
        Assert.True(first.ExitCode == 0, first.ToString());

        // When another job (another input, batch mode, no budget of its own) runs
        var second = await cli.RunAsync(["run", ws.Write("b.csv", "id,review_text\nb1,Another review\n"), "--model", "gpt-4o-mini", "--prompt", Prompt, "--max-tokens", "1", "--check-interval", "0.2"]);

        // Then it sends nothing and names the daily budget
        Assert.True(second.ExitCode == ExitCodesOf.Budget, second.ToString());
        Assert.Empty(emu.Server.ListBatches());
        Assert.Equal(2, emu.Server.Counters[ChatCompletions]);
        Assert.Contains("error: the daily budget of $10.00 (budget.daily_usd) would be passed: $32.00 spent and $0.00 reserved today (UTC, all jobs)", second.StdErr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--budget", "5", "'--budget'")]
    [InlineData(null, null, "'budget.daily_usd'")]
    public async Task Run_WithABudgetOnAModelWithoutAPrice_IsRefusedBeforeAnythingIsStoredOrSent(string? option, string? value, string field)
    {
        using var ws = new TempWorkspace();
        if (option is null)
        {
            ws.Write("config/user.yaml", "budget:\n  daily_usd: 3\n");
        }

        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);
        string[] extra = option is null ? [] : [option, value!];

        var r = await cli.RunAsync(["run", ws.WriteReviews("in.csv", 2), "--model", "mystery-model-1", "--prompt", Prompt, .. extra]);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {field}: no price is known for model 'mystery-model-1', so a budget cannot be enforced (its cost would be unknown, not zero). Add prices.mystery-model-1 (input and output, USD per 1M tokens) in config/user.yaml, or drop the budget.", r.StdErr.Trim());
        Assert.Equal(0, emu.Server.Counters.Total);
        Assert.Equal("[]", (await cli.RunAsync("jobs", "--json")).StdOut.Trim());
    }

    [Theory]
    [InlineData("--budget", "ten", "error: '--budget': 'ten' is not an amount in USD. Give dollars, e.g. --budget 5 or --budget 0.50 ('off' removes the job's budget).")]
    [InlineData("--budget", "1.2.3", "error: '--budget': '1.2.3' is not an amount in USD. Give dollars, e.g. --budget 5 or --budget 0.50 ('off' removes the job's budget).")]
    public async Task Run_WithABadBudget_SaysWhatIsWrong(string option, string value, string expected)
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("in.csv", 2), "--model", "gpt-4o-mini", "--prompt", Prompt, "--emulator", option, value);

        Assert.Equal((2, expected), (r.ExitCode, r.StdErr.Trim()));
    }

    [Theory]
    [InlineData("budget:\n  daily_usd: 5 dollars\n", "'budget.daily_usd': '5 dollars' is not an amount in USD. Give a number of dollars, e.g. 5 or 12.50.")]
    [InlineData("cache:\n  enabled: maybe\n", "'cache.enabled': 'maybe' is not true or false. Use true (the default) or false.")]
    public async Task Run_WithABadSettingInConfig_NamesTheFileLineAndField(string yaml, string expected)
    {
        using var ws = new TempWorkspace();
        var config = ws.Write("config/user.yaml", yaml);

        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("in.csv", 2), "--model", "gpt-4o-mini", "--prompt", Prompt, "--emulator");

        Assert.Equal((2, $"error: {config}, row 2: {expected}"), (r.ExitCode, r.StdErr.Trim()));
    }

    [Theory]
    [InlineData("batch")]
    [InlineData("sync")]
    public async Task Rerun_AfterAKillBetweenReservationAndSubmission_LeavesNoStuckReservation(string mode)
    {
        // Given a budget that holds exactly the estimates of every batch ($2 each), so a leftover reservation would stop the rerun
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", DollarPerOutputToken);
        await using var emu = await EmulatorHost.StartAsync();
        var (rows, budget, checkpoint) = mode == "batch" ? (6, "6", Checkpoints.SubmitClaimed) : (2, "2", Checkpoints.SyncReserved);
        string[] args = [.. Run(ws, ws.WriteReviews("in.csv", rows), "out.csv", "--mode", mode, "--batch-size", "2", "--max-tokens", "1", "--budget", budget)];
        var env = new Dictionary<string, string?>
        {
            ["BATCHPILOT_HOME"] = ws.PathOf("home"),
            ["BATCHPILOT_DB"] = ws.PathOf("jobs.db"),
            ["OPENAI_BASE_URL"] = emu.OpenAIBaseUrl,
            ["OPENAI_API_KEY"] = "sk-proj-crash000000000000000000000000000000",
            ["CI"] = "true",
        };

        // When the tool is killed right after the first reservation, before anything is sent
        var crashed = await ProcessRunner.RunAsync(args, new Dictionary<string, string?>(env) { ["BATCHPILOT_CRASH_AT"] = checkpoint }, ws.Root, TimeSpan.FromMinutes(2));
        Assert.True(crashed.ExitCode == 137, crashed.ToString());
        Assert.Equal((0, 0L), (emu.Server.ListBatches().Count, emu.Server.Counters[ChatCompletions]));

        // Then the rerun sends every item within the budget, each once
        var rerun = await ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(2));
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Equal((long)rows, emu.Server.ListBatches().Sum(b => b.RequestCount) + emu.Server.Counters[ChatCompletions]);
        Assert.Equal((long)rows, Long(Json(rerun), "succeeded"));
    }

    [Fact]
    public async Task Costs_OfAJobResumedInSyncMode_PriceEachBatchAtItsOwnApi_InStatusJobsAndCosts()
    {
        // Given output at $1 per token through the Batch API and $2 synchronously, and a batch job with one failed item
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", """
            prices:
              gpt-4o-mini: { input: 0, cached_input: 0, output: 2000000, batch_input: 0, batch_output: 1000000 }
            """);
        var faults = new FaultScenario { Items = [new ItemFaultRule { Error = "server_error", CustomIds = ["row-2"], FirstAttemptOnly = true }] };
        await using var emu = await EmulatorHost.StartAsync(0, faults);
        var cli = Cli(ws, emu);
        var run = await cli.RunAsync(Run(ws, ws.WriteReviews("in.csv", 3), "out.csv"));
        var id = Json(run).GetProperty("id").GetString()!;

        // When the failed item is resumed through the synchronous API
        var resumed = await cli.RunAsync("resume", id, "--mode", "sync", "--json");

        // Then the provider batch costs $1 and the sync chunk $2 per output token, and every view agrees on the total
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var status = Json(await cli.RunAsync("status", id, "--json"));
        var batches = status.GetProperty("batch_details").EnumerateArray().ToList();
        Assert.Equal(["completed", "sync"], batches.Select(b => b.GetProperty("provider_status").GetString()));
        Assert.Equal(batches[0].GetProperty("output_tokens").GetDecimal(), batches[0].GetProperty("cost_usd").GetDecimal());
        Assert.Equal(2 * batches[1].GetProperty("output_tokens").GetDecimal(), batches[1].GetProperty("cost_usd").GetDecimal());
        var total = batches.Sum(b => b.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(total, status.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(total, Json(await cli.RunAsync("jobs", "--json"))[0].GetProperty("cost_usd").GetDecimal());
        Assert.Equal(total, Json(await cli.RunAsync("costs", "--json")).GetProperty("total_usd").GetDecimal());
    }

    /// <summary>The documented exit code of a budget stop.</summary>
    private static class ExitCodesOf
    {
        public const int Budget = BatchPilot.Errors.ExitCodes.BudgetExceeded;
    }
}
