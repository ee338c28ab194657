using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

public sealed class SyncModeCliTests
{
    [Fact]
    public async Task RunModeSync_AgainstARateLimitedServer_AnswersEveryRowWithoutBatches()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { RequestsPerMinute = 1200 });
        var cli = new CliRunner(ws)
            .With("OPENAI_BASE_URL", new Uri(emu.BaseAddress, "v1").ToString())
            .With("OPENAI_API_KEY", "sk-proj-test0000000000000000000000000000abcd");

        var r = await cli.RunAsync("run", ws.WriteReviews("in.csv", 30), "--model", "gpt-4o-mini", "--prompt", "Classify {{review_text}}", "--mode", "sync", "--out", ws.PathOf("out.csv"), "--json");

        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("out.csv")));
        Assert.Equal(31, rows.Count);
        Assert.All(rows.Skip(1), row => Assert.Equal("succeeded", row[4]));
        Assert.Contains("Classify Review number 7,", rows[7][3], StringComparison.Ordinal);
        Assert.Empty(emu.ListBatches());
        Assert.Equal(30, emu.Counters["POST /v1/chat/completions"]);
        Assert.Equal("sync", JsonDocument.Parse(r.StdOut).RootElement.GetProperty("mode").GetString());
    }

    [Fact]
    public async Task Resume_InSyncMode_SendsTheFailedItemsOfABatchJobSynchronously()
    {
        using var ws = new TempWorkspace();
        var faults = new FaultScenario { Seed = 2, Items = [new ItemFaultRule { Error = "server_error", Rate = 0.3 }] };
        await using var emu = await EmulatorHost.StartAsync(0, faults);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var run = await cli.RunAsync("run", ws.WriteReviews("in.csv", 20), "--model", "gpt-4o-mini", "--prompt", "{{review_text}}", "--json");
        var view = JsonDocument.Parse(run.StdOut).RootElement;
        var failed = view.GetProperty("failed").GetInt32();
        Assert.InRange(failed, 1, 19);

        var resume = await cli.RunAsync("resume", view.GetProperty("id").GetString()!, "--mode", "sync", "--json");

        Assert.True(resume.ExitCode == 0, resume.ToString());
        Assert.Single(emu.Server.ListBatches());
        Assert.Equal(failed, emu.Server.Counters["POST /v1/chat/completions"]);
        Assert.Equal(20, JsonDocument.Parse(resume.StdOut).RootElement.GetProperty("succeeded").GetInt32());
    }

    [Fact]
    public async Task RunModeSync_WithDetach_IsRefused()
    {
        using var ws = new TempWorkspace();
        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("in.csv", 2), "--model", "gpt-4o-mini", "--prompt", "x", "--mode", "sync", "--detach", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("'--detach': sync mode sends and waits in this process", r.StdErr, StringComparison.Ordinal);
    }
}
