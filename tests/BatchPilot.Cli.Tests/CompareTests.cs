using System.Globalization;
using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Running;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// Comparisons (<c>run --model a,b</c>, repeated prompts): one ordinary job per variant, linked by a group, run together and
/// merged side by side. Real SQLite store, the emulator on loopback (its answers quote the prompt, so a row merged with the
/// wrong answer is seen), the real tool as a child process for the crash tests.
/// </summary>
public sealed class CompareTests
{
    private const string Prompt = "Classify {{product}}: {{review_text}}";
    private const string Models = "gpt-4o-mini,claude-haiku-4-5";

    private static string[] Result(string label) =>
        [$"response [{label}]", $"status [{label}]", $"error [{label}]", $"input_tokens [{label}]", $"output_tokens [{label}]"];

    [Fact]
    public async Task Run_TwoModelsOfTwoProviders_OnTheExampleCsv_PutsEachVariantsOwnAnswersSideBySide()
    {
        // Given the example CSV (200 reviews) and two models of two providers
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.PathOf("reviews.csv");
        File.Copy(RepositoryRoot.PathOf("examples", "reviews.csv"), input);
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the comparison runs
        var r = await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--batch-size", "50", "--out", ws.PathOf("compare.csv"));

        // Then every input column and row comes once, in order, then each model's own answer to that very row
        Assert.True(r.ExitCode == 0, r.ToString());
        var source = Csv.Parse(await File.ReadAllTextAsync(input));
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("compare.csv")));
        Assert.Equal([.. source[0], .. Result("gpt-4o-mini"), .. Result("claude-haiku-4-5")], rows[0]);
        Assert.Equal(201, rows.Count);
        for (var i = 1; i <= 200; i++)
        {
            var (row, src) = (rows[i], source[i]);
            Assert.Equal(src, row[..4]);
            var expected = $"Emulated answer to: Classify {src[1]}: {src[3]}";
            foreach (var at in new[] { 4, 9 })
            {
                Assert.Equal(expected, row[at]);
                Assert.Equal("succeeded", row[at + 1]);
                Assert.Equal(string.Empty, row[at + 2]);
                Assert.True(int.Parse(row[at + 3], CultureInfo.InvariantCulture) > 0);
                Assert.True(int.Parse(row[at + 4], CultureInfo.InvariantCulture) > 0);
            }
        }

        // And each provider got every row exactly once, in batches of 50
        var batches = emu.Server.ListBatches();
        foreach (var provider in new[] { "openai", "anthropic" })
        {
            var mine = batches.Where(b => b.Provider == provider).ToList();
            Assert.Equal([50, 50, 50, 50], mine.Select(b => b.RequestCount));
            Assert.Equal(Enumerable.Range(1, 200).Select(n => "row-" + n).Order(), mine.SelectMany(b => b.CustomIds).Order());
        }

        // And the history shows two ordinary jobs of one group
        var jobs = JsonDocument.Parse((await cli.RunAsync("jobs", "--json")).StdOut).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, jobs.Count);
        var group = jobs[0].GetProperty("group").GetString();
        Assert.StartsWith("grp-", group, StringComparison.Ordinal);
        Assert.All(jobs, j => Assert.Equal(group, j.GetProperty("group").GetString()));
        Assert.Equal(["claude-haiku-4-5", "gpt-4o-mini"], jobs.Select(j => j.GetProperty("variant").GetString()).Order());
        Assert.Equal(["reviews [claude-haiku-4-5]", "reviews [gpt-4o-mini]"], jobs.Select(j => j.GetProperty("name").GetString()).Order());
    }

    [Fact]
    public async Task Run_TwoPromptFiles_LabelsTheColumnsModelSlashFile_AndEachCellQuotesItsOwnPrompt()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 12);
        ws.Write("short.txt", "In one word: {{review_text}}");
        ws.Write("prompts/long.txt", "In detail, for {{product}}: {{review_text}}");
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", input, "-m", "gpt-4o-mini", "--prompt-file", ws.PathOf("short.txt"), "--prompt-file", ws.PathOf("prompts/long.txt"), "--output-column", "answer", "--out", ws.PathOf("p.csv"), "--json");

        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("p.csv")));
        Assert.Equal(["id", "product", "review_text", "answer [gpt-4o-mini/short]", "status [gpt-4o-mini/short]", "error [gpt-4o-mini/short]", "input_tokens [gpt-4o-mini/short]", "output_tokens [gpt-4o-mini/short]",
            "answer [gpt-4o-mini/long]", "status [gpt-4o-mini/long]", "error [gpt-4o-mini/long]", "input_tokens [gpt-4o-mini/long]", "output_tokens [gpt-4o-mini/long]"], rows[0]);
        for (var i = 1; i <= 12; i++)
        {
            var review = $"Review number {i}, with a comma and \"quotes\"";
            Assert.Equal(["r" + i, $"Product {i % 7}", review], rows[i][..3]);
            Assert.Equal($"Emulated answer to: In one word: {review}", rows[i][3]);
            Assert.Equal($"Emulated answer to: In detail, for Product {i % 7}: {review}", rows[i][8]);
        }

        var view = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal(("Completed", 24, 24), (view.GetProperty("status").GetString(), view.GetProperty("total").GetInt32(), view.GetProperty("succeeded").GetInt32()));
        Assert.Equal(["gpt-4o-mini/short", "gpt-4o-mini/long"], view.GetProperty("variants").EnumerateArray().Select(v => v.GetProperty("variant").GetString()));
        Assert.Equal(2, emu.Server.ListBatches().Count);
    }

    [Fact]
    public async Task Run_SameCommandAgain_ContinuesTheGroupWithoutSendingAnything_InAnyModelOrder_AndNewStartsAnotherGroup()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 8);
        var cli = new CliRunner(ws).WithEmulator(emu);

        var first = await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--out", ws.PathOf("a.csv"), "--json");
        var again = await cli.RunAsync("run", input, "--model", "claude-haiku-4-5", "--model", "gpt-4o-mini", "--prompt", Prompt, "--out", ws.PathOf("b.csv"), "--json");

        // The rerun found the same group and both children, and sent nothing
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(again.ExitCode == 0, again.ToString());
        var group = JsonDocument.Parse(first.StdOut).RootElement.GetProperty("id").GetString();
        Assert.Equal(group, JsonDocument.Parse(again.StdOut).RootElement.GetProperty("id").GetString());
        Assert.Contains($"Continuing comparison {group}", again.StdErr, StringComparison.Ordinal);
        Assert.Equal(2, emu.Server.ListBatches().Count);
        Assert.Equal(2, JsonDocument.Parse((await cli.RunAsync("jobs", "--json")).StdOut).RootElement.GetArrayLength());

        // The columns follow the order of the command that wrote them
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("b.csv")));
        Assert.Equal([.. Result("claude-haiku-4-5"), .. Result("gpt-4o-mini")], rows[0][3..]);
        Assert.Equal(rows[1][3], rows[1][8]);

        // --new starts another group with two new jobs (sending again: --no-cache, else the cache would answer them)
        var fresh = await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--new", "--no-cache", "--json");
        Assert.True(fresh.ExitCode == 0, fresh.ToString());
        Assert.NotEqual(group, JsonDocument.Parse(fresh.StdOut).RootElement.GetProperty("id").GetString());
        Assert.Equal(4, emu.Server.ListBatches().Count);
        Assert.Equal(4, JsonDocument.Parse((await cli.RunAsync("jobs", "--json")).StdOut).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Run_AfterASingleRunOfOneVariant_AdoptsThatJob_AndSendsOnlyTheNewVariant()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 5);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var solo = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--json");
        var soloId = JsonDocument.Parse(solo.StdOut).RootElement.GetProperty("id").GetString();

        var compare = await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--json", "--out", ws.PathOf("c.csv"));

        Assert.True(compare.ExitCode == 0, compare.ToString());
        var variants = JsonDocument.Parse(compare.StdOut).RootElement.GetProperty("variants").EnumerateArray().ToList();
        Assert.Equal(soloId, variants[0].GetProperty("id").GetString());
        Assert.Equal(["openai", "anthropic"], emu.Server.ListBatches().Select(b => b.Provider));
    }

    public static TheoryData<string, int> CrashPoints() => new()
    {
        { Checkpoints.GroupCreated, 0 },   // the group and its reserved ids are stored, no child exists
        { Checkpoints.GroupChild, 0 },     // the first child exists, the second does not
        { Checkpoints.IngestChunk, 1 },    // the second child is reading its rows
        { Checkpoints.SubmitCreated, 0 },  // the first provider batch exists but is not recorded
    };

    [Theory]
    [MemberData(nameof(CrashPoints))]
    public async Task Rerun_AfterSigkillBetweenChildCreations_CreatesNoDuplicateAndSendsEachRowOncePerVariant(string checkpoint, int passesBefore)
    {
        // Given the real tool, killed with SIGKILL at the checkpoint while it creates the comparison
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 300);
        var env = CrashTests.Environment(ws, emu);
        string[] args = ["run", input, "--model", Models, "--prompt", Prompt, "--batch-size", "100", "--out", ws.PathOf("out.csv"), "--check-interval", "0.2"];
        var crashed = await ProcessRunner.RunAsync(args, new Dictionary<string, string?>(env) { ["BATCHPILOT_CRASH_AT"] = checkpoint, ["BATCHPILOT_CRASH_AFTER"] = passesBefore.ToString(CultureInfo.InvariantCulture) }, ws.Root, TimeSpan.FromMinutes(2));
        Assert.True(crashed.ExitCode == 137, $"expected SIGKILL at {checkpoint}: {crashed}");
        Assert.False(File.Exists(ws.PathOf("out.csv")));

        // When the same command runs again
        var rerun = await ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(2));

        // Then one group of two jobs, one provider batch per planned batch, every row once per variant, all merged
        Assert.True(rerun.ExitCode == 0, $"rerun after {checkpoint}: {rerun}");
        var jobs = JsonDocument.Parse((await ProcessRunner.RunAsync(["jobs", "--json"], env, ws.Root, TimeSpan.FromMinutes(1))).StdOut).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, jobs.Count);
        Assert.Single(jobs.Select(j => j.GetProperty("group").GetString()).Distinct());
        foreach (var provider in new[] { "openai", "anthropic" })
        {
            var mine = emu.Server.ListBatches().Where(b => b.Provider == provider).ToList();
            Assert.Equal(3, mine.Count);
            Assert.Equal(Enumerable.Range(1, 300).Select(n => "row-" + n).Order(), mine.SelectMany(b => b.CustomIds).Order());
        }

        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("out.csv")));
        Assert.Equal(301, rows.Count);
        for (var i = 1; i <= 300; i++)
        {
            Assert.Equal("r" + i.ToString(CultureInfo.InvariantCulture), rows[i][0]);
            Assert.Equal(("succeeded", "succeeded"), (rows[i][4], rows[i][9]));
            Assert.Contains($"Review number {i},", rows[i][3], StringComparison.Ordinal);
            Assert.Equal(rows[i][3], rows[i][8]);
        }
    }

    [Fact]
    public async Task Resume_OfTheGroup_AfterFailuresInOneVariant_ResendsExactlyThoseItems_AndRewritesTheMergedOutput()
    {
        // Given an emulator that fails about a third of Anthropic's items on their first attempt
        using var ws = new TempWorkspace();
        var faults = new FaultScenario { Seed = 11, Items = [new ItemFaultRule { Error = "overloaded_error", Rate = 0.35, FirstAttemptOnly = true, Provider = "anthropic" }] };
        await using var emu = await EmulatorHost.StartAsync(faults: faults);
        var input = ws.WriteReviews("reviews.csv", 30);
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the comparison runs
        var run = await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--out", ws.PathOf("out.csv"), "--name", "avis");

        // Then it ends with errors (exit 1), only in the Anthropic columns
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("then 'batchpilot resume grp-", run.StdErr, StringComparison.Ordinal);
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("out.csv")));
        Assert.All(rows.Skip(1), r => Assert.Equal("succeeded", r[4]));
        var failedIds = rows.Skip(1).Where(r => r[9] == "failed").Select(r => "row-" + r[0][1..]).ToHashSet();
        Assert.InRange(failedIds.Count, 1, 29);
        Assert.All(rows.Skip(1).Where(r => r[9] == "failed"), r => Assert.StartsWith("overloaded_error:", r[10], StringComparison.Ordinal));
        var before = emu.Server.ListBatches().Count;

        // When the group is resumed by name
        var resume = await cli.RunAsync("resume", "avis", "--out", ws.PathOf("after.csv"));

        // Then exactly the failed items went out again, to Anthropic only, and now every item of every variant succeeded
        Assert.True(resume.ExitCode == 0, resume.ToString());
        Assert.Contains("gpt-4o-mini: Nothing to resume: every item succeeded", resume.StdErr, StringComparison.Ordinal);
        var added = emu.Server.ListBatches().OrderBy(b => b.CreatedAt).Skip(before).ToList();
        Assert.Equal("anthropic", Assert.Single(added).Provider);
        Assert.Equal(failedIds.Order(), added[0].CustomIds.Order());
        var after = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("after.csv")));
        Assert.Equal(31, after.Count);
        Assert.All(after.Skip(1), r => Assert.Equal(("succeeded", "succeeded"), (r[4], r[9])));
        Assert.All(after.Skip(1), r => Assert.Equal(r[3], r[8]));
    }

    [Fact]
    public async Task Run_AVariantWhoseKeyIsMissing_FailsBeforeAnythingIsStoredOrSent()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 5);
        var cli = new CliRunner(ws).WithEmulator(emu).With("ANTHROPIC_API_KEY", null);

        var r = await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--out", ws.PathOf("out.csv"));

        Assert.Equal(3, r.ExitCode);
        Assert.Equal("error: no API key for model claude-haiku-4-5 (provider anthropic): set api_keys.anthropic_api_key in config/user.yaml or the ANTHROPIC_API_KEY environment variable, or add --emulator to try offline.", r.StdErr.Trim());
        Assert.Equal(0, emu.Server.Counters.Total);
        Assert.False(File.Exists(ws.PathOf("out.csv")));
        Assert.Equal(0, JsonDocument.Parse((await cli.RunAsync("jobs", "--json")).StdOut).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task GroupVerbs_StatusWatchExportCancelDelete_ActOnEveryChild()
    {
        // Given a detached comparison whose batches take long
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(batchSeconds: 600);
        var input = ws.WriteReviews("reviews.csv", 6);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var detached = await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--name", "cmp", "--detach");
        var group = detached.StdOut.Trim();
        Assert.True(detached.ExitCode == 0, detached.ToString());
        Assert.StartsWith("grp-", group, StringComparison.Ordinal);
        Assert.Equal(2, emu.Server.ListBatches().Count);

        // status: both variants in flight (exit 6)
        var status = await cli.RunAsync("status", "cmp", "--json");
        Assert.Equal(6, status.ExitCode);
        var view = JsonDocument.Parse(status.StdOut).RootElement;
        Assert.Equal((group, "Running", 12), (view.GetProperty("id").GetString(), view.GetProperty("status").GetString(), view.GetProperty("pending").GetInt32()));

        // export: the side-by-side file, answers not there yet
        var export = await cli.RunAsync("export", group, "--out", ws.PathOf("now.jsonl"));
        Assert.True(export.ExitCode == 0, export.ToString());
        var line = JsonDocument.Parse((await File.ReadAllLinesAsync(ws.PathOf("now.jsonl")))[0]).RootElement;
        Assert.Equal("in_batch", line.GetProperty("variants").GetProperty("claude-haiku-4-5").GetProperty("status").GetString());

        // delete without --force is refused while batches are in flight
        var refused = await cli.RunAsync("delete", group);
        Assert.Equal(2, refused.ExitCode);
        Assert.StartsWith($"error: 'JOB': comparison {group} has batches in flight at the provider (gpt-4o-mini: job-", refused.StdErr, StringComparison.Ordinal);

        // cancel: both jobs cancelled at their providers
        var cancel = await cli.RunAsync("cancel", group, "--wait", "20", "--json");
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal(["Cancelled", "Cancelled"], JsonDocument.Parse(cancel.StdOut).RootElement.EnumerateArray().Select(a => a.GetProperty("result").GetString()));
        Assert.Equal(["cancelled", "ended"], emu.Server.ListBatches().OrderBy(b => b.Provider == "anthropic").Select(b => b.Status));
        var watch = await cli.RunAsync("watch", group, "--json");
        Assert.Equal("Cancelled", JsonDocument.Parse(watch.StdOut).RootElement.GetProperty("status").GetString());

        // delete: the jobs and the group are gone
        var delete = await cli.RunAsync("delete", group);
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Equal(0, JsonDocument.Parse((await cli.RunAsync("jobs", "--json")).StdOut).RootElement.GetArrayLength());
        var gone = await cli.RunAsync("status", group);
        Assert.Equal(7, gone.ExitCode);
    }

    [Fact]
    public async Task Run_SyncMode_ComparesThroughTheSynchronousApis()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 7);
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--mode", "sync", "--out", ws.PathOf("s.csv"));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Empty(emu.Server.ListBatches());
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("s.csv")));
        Assert.Equal(8, rows.Count);
        Assert.All(rows.Skip(1), row => Assert.Equal((row[3], "succeeded", "succeeded"), (row[8], row[4], row[9])));
        Assert.Contains("Emulated answer to: Classify Product 3: Review number 3,", rows[3][3], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--model|gpt-4o-mini,,claude-haiku-4-5|--prompt|x", "error: '--model': 'gpt-4o-mini,,claude-haiku-4-5' has an empty model name. Separate model ids with commas: --model gpt-4o-mini,claude-haiku-4-5.")]
    [InlineData("--model|gpt-4o-mini,gpt-4o-mini|--prompt|x", "error: '--model': gpt-4o-mini is listed twice. Give each model once.")]
    [InlineData("--model|gpt-4o-mini|--prompt|Say {{product}}|--prompt|Say {{product}}", "error: '--prompt': prompt 2 is the same prompt as prompt 1. Compare different prompts, or give the prompt once.")]
    [InlineData("--model|gpt-4o-mini|--prompt|Say {{product}}|--prompt|Say {{nope}}", "error: '--prompt #2': the template uses the placeholder {{nope}} but the input reviews.csv has no such column. Use one of: {{id}}, {{product}}, {{review_text}}.")]
    [InlineData("--model|" + Models + "|--prompt|x|--out|c.xlsx", "error: '--out': a comparison is written as csv, jsonl, md or docx, not xlsx. Use a .csv, .jsonl, .md or .docx file, or export one variant's job with 'batchpilot export JOB'.")]
    [InlineData("--model|" + Models + "|--prompt|x|--api-key|sk-proj-0000000000000000000000000000", "error: '--api-key': gives one key, but the comparison uses openai and anthropic. Set each provider's key and base URL in the environment or config/user.yaml instead.")]
    public async Task Run_ABadComparison_IsOneLine_ExitCode2_AndNothingIsStoredOrSent(string argList, string expected)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        ws.WriteReviews("reviews.csv", 3);
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync(["run", "reviews.csv", .. argList.Split('|')]);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal(expected, r.StdErr.Trim().Replace(ws.Root + Path.DirectorySeparatorChar, string.Empty, StringComparison.Ordinal));
        Assert.Equal(0, emu.Server.Counters.Total);
        Assert.Equal(0, JsonDocument.Parse((await cli.RunAsync("jobs", "--json")).StdOut).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task OtherVerbs_RefuseSeveralModels_AndANameOfBothAJobAndAGroupIsRefused()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 2);
        var cli = new CliRunner(ws).WithEmulator(emu);

        var preview = await cli.RunAsync("preview", input, "--prompt", Prompt, "--prompt", "Other {{product}}");
        await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", "Solo {{product}}", "--name", "same");
        await cli.RunAsync("run", input, "--model", Models, "--prompt", Prompt, "--name", "same");
        var ambiguous = await cli.RunAsync("status", "same");

        var previewModels = await cli.RunAsync("preview", input, "--model", Models, "--prompt", Prompt);
        Assert.Equal(2, previewModels.ExitCode);
        Assert.StartsWith($"error: '--model': '{Models}' is a list of models; preview shows the requests of one.", previewModels.StdErr, StringComparison.Ordinal);
        Assert.Equal(2, preview.ExitCode);
        Assert.StartsWith("error: --prompt takes one value with 'preview'; only 'batchpilot run' compares several (and 'batchpilot estimate' estimates them)", preview.StdErr, StringComparison.Ordinal);
        Assert.Equal(2, ambiguous.ExitCode);
        Assert.Matches(@"^error: 'JOB': 'same' names both job job-[0-9a-f]{6} and comparison grp-[0-9a-f]{6}\. Give the id: job-[0-9a-f]{6} or grp-[0-9a-f]{6}\.$", ambiguous.StdErr.Trim());
    }
}
