using System.Diagnostics;
using BatchPilot.Running;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// A process killed with SIGKILL at any point loses nothing and never creates a second provider batch for the same items:
/// the real tool runs as a child process against an emulator in this process; after the kill the same command runs again.
/// </summary>
public sealed class CrashTests
{
    private const int Rows = 12_000;
    private const int BatchSize = 5_000;

    public static TheoryData<string, string, int> Points()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var point in Checkpoints.All)
        {
            data.Add("gpt-4o-mini", point, 0);
        }

        // Later passes: after the first chunk/batch, in the middle of the run.
        data.Add("gpt-4o-mini", Checkpoints.IngestChunk, 1);
        data.Add("gpt-4o-mini", Checkpoints.SubmitCreated, 1);
        data.Add("gpt-4o-mini", Checkpoints.SubmitStaged, 2);
        data.Add("gpt-4o-mini", Checkpoints.CollectChunk, 1);
        data.Add("claude-haiku-4-5", Checkpoints.SubmitStaged, 0);
        data.Add("claude-haiku-4-5", Checkpoints.SubmitCreated, 0);
        data.Add("claude-haiku-4-5", Checkpoints.SubmitCreated, 2);
        data.Add("claude-haiku-4-5", Checkpoints.CollectApplied, 0);
        return data;
    }

    [Theory]
    [MemberData(nameof(Points))]
    public async Task Rerun_AfterSigkillAtCheckpoint_LosesNothingAndNeverDuplicatesABatch(string model, string checkpoint, int passesBefore)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", Rows);
        var env = Environment(ws, emu);
        var args = Args(input, model, ws);

        // When the tool is killed at the checkpoint
        var crashed = await ProcessRunner.RunAsync(args, new Dictionary<string, string?>(env) { ["BATCHPILOT_CRASH_AT"] = checkpoint, ["BATCHPILOT_CRASH_AFTER"] = passesBefore.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ws.Root, TimeSpan.FromMinutes(2));
        Assert.True(crashed.ExitCode == 137, $"expected SIGKILL at {checkpoint}: {crashed}");
        Assert.False(File.Exists(ws.PathOf("out.csv")), "no output may exist after a crash");

        // And the same command runs again
        var rerun = await ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(2));

        // Then everything succeeded, with exactly one provider batch per planned batch and each item sent once
        Assert.True(rerun.ExitCode == 0, $"rerun after {checkpoint}: {rerun}");
        Assert.Empty(Directory.GetFiles(ws.Root, ".out.csv.*.tmp"));
        AssertOneBatchPerItemGroup(emu);
        AssertCompleteOutput(ws.PathOf("out.csv"));
    }

    [Theory]
    [InlineData(1, 400)]
    [InlineData(2, 900)]
    [InlineData(3, 1500)]
    [InlineData(4, 2200)]
    [InlineData(5, 3000)]
    public async Task Rerun_AfterSigkillAtARandomInstant_LosesNothing(int seed, int maxDelayMs)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", Rows);
        var env = Environment(ws, emu);
        var args = Args(input, "gpt-4o-mini", ws);
        var delay = new Random(seed).Next(maxDelayMs / 3, maxDelayMs);

        await KillAfterAsync(args, env, ws.Root, TimeSpan.FromMilliseconds(delay));
        var rerun = await ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(2));

        Assert.True(rerun.ExitCode == 0, $"rerun after a kill at {delay} ms: {rerun}");
        AssertOneBatchPerItemGroup(emu);
        AssertCompleteOutput(ws.PathOf("out.csv"));
    }

    [Fact]
    public async Task TheSameRunTwiceAtOnce_OnOneStore_ContinuesOneJob_AndSendsEachItemOnce()
    {
        // Given the same command started twice at the same instant on the same store
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", Rows);
        var env = Environment(ws, emu);
        var args = Args(input, "gpt-4o-mini", ws);

        // When both run to the end
        var runs = await Task.WhenAll(
            ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(3)),
            ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(3)));

        // Then both succeeded on one job, with one provider batch per planned batch and each item sent once
        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.ToString()));
        AssertOneBatchPerItemGroup(emu);
        AssertCompleteOutput(ws.PathOf("out.csv"));
        var jobs = await ProcessRunner.RunAsync(["jobs", "--json"], env, ws.Root, TimeSpan.FromMinutes(1));
        Assert.Single(System.Text.Json.JsonDocument.Parse(jobs.StdOut).RootElement.EnumerateArray());
    }

    [Fact]
    public async Task Sigterm_WhileWaiting_SavesStateExits130_AndTheRerunContinues()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(batchSeconds: 4);
        var input = ws.WriteReviews("reviews.csv", 50);
        var env = Environment(ws, emu);
        string[] args = ["run", input, "--model", "gpt-4o-mini", "--prompt", "{{review_text}}", "--out", ws.PathOf("out.csv"), "--check-interval", "0.2"];
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = ws.Root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(ProcessRunner.CliDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (emu.Server.ListBatches().Count == 0)
            {
                await Task.Delay(50, wait.Token);
            }
        }

        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        using (var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            await p.WaitForExitAsync(bound.Token);
        }

        Assert.True(p.ExitCode == 130, await stderr);
        Assert.Contains("interrupted. Everything done so far is saved", await stderr, StringComparison.Ordinal);
        var rerun = await ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(2));
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Single(emu.Server.ListBatches());
        Assert.Equal(51, Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("out.csv"))).Count);
    }

    [Theory]
    [InlineData("id,text\na1,Hello from stdin\na2,Bonjour\n")]
    [InlineData("{\"id\":\"a1\",\"text\":\"Hello from stdin\"}\n{\"id\":\"a2\",\"text\":\"Bonjour\"}\n")]
    public async Task Run_FromStandardInput_CsvOrJsonl_AndARerunContinuesIt(string content)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var env = Environment(ws, emu);
        string[] args = ["run", "-", "--model", "gpt-4o-mini", "--prompt", "Say {{text}}", "--id-column", "id", "--out", ws.PathOf("out.csv")];

        var first = await ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(2), content);
        var again = await ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(2), content);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("Continuing job", again.StdErr, StringComparison.Ordinal);
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("out.csv")));
        Assert.Equal(["a1", "a2"], rows.Skip(1).Select(r => r[0]));
        Assert.Contains("Say Hello from stdin", rows[1][2], StringComparison.Ordinal);
        Assert.Single(emu.Server.ListBatches());
    }

    [Fact]
    public async Task Run_BadStandardInput_NamesStdin()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();

        var r = await ProcessRunner.RunAsync(["run", "-", "--model", "gpt-4o-mini", "--prompt", "x"], Environment(ws, emu), ws.Root, TimeSpan.FromMinutes(1), "id,text\n");

        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("error: <stdin>", r.StdErr.Trim(), StringComparison.Ordinal);
    }

    /// <summary>The environment of the real tool run as a child process against <paramref name="emu"/> (no crash point set).</summary>
    internal static Dictionary<string, string?> Environment(TempWorkspace ws, EmulatorHost emu) => new()
    {
        ["BATCHPILOT_HOME"] = ws.PathOf("home"),
        ["BATCHPILOT_DB"] = ws.PathOf("jobs.db"),
        ["OPENAI_BASE_URL"] = emu.OpenAIBaseUrl,
        ["ANTHROPIC_BASE_URL"] = emu.AnthropicBaseUrl,
        ["OPENAI_API_KEY"] = "sk-proj-crash000000000000000000000000000000",
        ["ANTHROPIC_API_KEY"] = "sk-ant-crash00000000000000000000000000000",
        ["CI"] = "true",
        ["BATCHPILOT_CRASH_AT"] = null,
        ["BATCHPILOT_CRASH_AFTER"] = null,
    };

    private static string[] Args(string input, string model, TempWorkspace ws) =>
        ["run", input, "--model", model, "--prompt", "Classify {{product}}: {{review_text}}", "--batch-size", BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", ws.PathOf("out.csv"), "--check-interval", "0.2"];

    private static void AssertOneBatchPerItemGroup(EmulatorHost emu)
    {
        var batches = emu.Server.ListBatches();
        var all = batches.SelectMany(b => b.CustomIds).ToList();
        Assert.True(all.Count == Rows, $"{batches.Count} provider batches carried {all.Count} requests for {Rows} items: " + string.Join(", ", batches.Select(b => $"{b.Id}:{b.RequestCount}")));
        Assert.Equal(Rows, all.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(3, batches.Count);
    }

    private static void AssertCompleteOutput(string path)
    {
        var rows = Csv.Parse(File.ReadAllText(path));
        Assert.Equal(Rows + 1, rows.Count);
        for (var i = 1; i <= Rows; i++)
        {
            Assert.Equal("r" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), rows[i][0]);
            Assert.Equal("succeeded", rows[i][4]);
            Assert.Contains($"Review number {i},", rows[i][3], StringComparison.Ordinal);
        }
    }

    private static async Task KillAfterAsync(string[] args, Dictionary<string, string?> env, string wd, TimeSpan after)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = wd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(ProcessRunner.CliDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(after);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true); // SIGKILL
        }

        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(bound.Token);
    }
}
