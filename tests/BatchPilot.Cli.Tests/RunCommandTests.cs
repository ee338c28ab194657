using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

public sealed class RunCommandTests
{
    private const string Prompt = "Classify {{product}}: {{review_text}}";

    [Theory]
    [InlineData("gpt-4o-mini", "openai")]
    [InlineData("claude-haiku-4-5", "anthropic")]
    public async Task Run_FullJob_MergesEveryRowInOrderWithItsOwnAnswer(string model, string provider)
    {
        // Given 25 rows, batches of 10, and an emulator whose answers quote the prompt
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 25);
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the job runs
        var r = await cli.RunAsync("run", input, "--model", model, "--prompt", Prompt, "--batch-size", "10", "--out", ws.PathOf("out.csv"));

        // Then every row succeeded, in input order, each with the answer to its own prompt
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Csv.Parse(File.ReadAllText(ws.PathOf("out.csv")));
        Assert.Equal(["id", "product", "review_text", "response", "status", "error", "input_tokens", "output_tokens", "cost_usd"], rows[0]);
        Assert.Equal(26, rows.Count);
        for (var i = 1; i <= 25; i++)
        {
            Assert.Equal("r" + i, rows[i][0]);
            Assert.Contains($"Classify Product {i % 7}: Review number {i}, with a comma and \"quotes\"", rows[i][3], StringComparison.Ordinal);
            Assert.Equal("succeeded", rows[i][4]);
            Assert.True(int.Parse(rows[i][6], System.Globalization.CultureInfo.InvariantCulture) > 0);
        }

        var batches = emu.Server.ListBatches();
        Assert.Equal(3, batches.Count);
        Assert.All(batches, b => Assert.Equal(provider, b.Provider));
        Assert.Equal([10, 10, 5], batches.OrderBy(b => b.CreatedAt).Select(b => b.RequestCount).ToArray());
    }

    [Fact]
    public async Task Run_SameCommandAgain_ContinuesTheJobWithoutSendingAnything()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 5);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var args = new[] { "run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--out", ws.PathOf("out.csv") };

        var first = await cli.RunAsync(args);
        var second = await cli.RunAsync(args);

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("Continuing job", second.StdErr, StringComparison.Ordinal);
        Assert.Single(emu.Server.ListBatches());
        var jobs = await cli.RunAsync("jobs", "--json");
        Assert.Single(JsonDocument.Parse(jobs.StdOut).RootElement.EnumerateArray());
    }

    [Fact]
    public async Task Run_WithNew_StartsASecondJob()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("reviews.csv", 3);
        var cli = new CliRunner(ws).WithEmulator(emu);

        await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", Prompt);
        // (--no-cache: otherwise the new job's identical requests are answered from the cache, see CacheAndBudgetTests)
        var again = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--new", "--no-cache");

        Assert.Equal(0, again.ExitCode);
        Assert.Equal(2, emu.Server.ListBatches().Count);
        Assert.Equal(2, JsonDocument.Parse((await cli.RunAsync("jobs", "--json")).StdOut).RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Run_Detach_ReturnsTheJobId_AndARerunCollects()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(batchSeconds: 1);
        var input = ws.WriteReviews("reviews.csv", 4);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var args = new[] { "run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--out", ws.PathOf("out.csv") };

        var detached = await cli.RunAsync([.. args, "--detach"]);
        var jobId = detached.StdOut.Trim();
        Assert.Equal(0, detached.ExitCode);
        Assert.StartsWith("job-", jobId, StringComparison.Ordinal);
        Assert.False(File.Exists(ws.PathOf("out.csv")));

        var rerun = await cli.RunAsync(args);
        Assert.Equal(0, rerun.ExitCode);
        Assert.Equal(5, Csv.Parse(File.ReadAllText(ws.PathOf("out.csv"))).Count);
        Assert.Single(emu.Server.ListBatches());
    }

    [Fact]
    public async Task Resume_AfterInjectedItemFailures_ResendsExactlyTheFailedItems()
    {
        // Given an emulator that fails about a third of the items on their first attempt
        using var ws = new TempWorkspace();
        var faults = new FaultScenario { Seed = 7, Items = [new ItemFaultRule { Error = "server_error", Rate = 0.35, FirstAttemptOnly = true }] };
        await using var emu = await EmulatorHost.StartAsync(faults: faults);
        var input = ws.WriteReviews("reviews.csv", 40);
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the job runs
        var run = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--json", "--out", ws.PathOf("out.csv"));

        // Then it ends with errors (exit 1) and names the failed items
        Assert.True(run.ExitCode == 1, run.ToString());
        var view = JsonDocument.Parse(run.StdOut).RootElement;
        var failed = view.GetProperty("failed").GetInt32();
        Assert.InRange(failed, 1, 39);
        var rows = Csv.Parse(File.ReadAllText(ws.PathOf("out.csv")));
        var failedIds = rows.Skip(1).Where(r => r[4] == "failed").Select(r => "row-" + r[0][1..]).ToHashSet();
        Assert.Equal(failed, failedIds.Count);
        Assert.All(rows.Skip(1).Where(r => r[4] == "failed"), r => Assert.StartsWith("server_error:", r[5], StringComparison.Ordinal));

        // When it is resumed
        var jobId = view.GetProperty("id").GetString()!;
        var resume = await cli.RunAsync("resume", jobId, "--out", ws.PathOf("out2.csv"));

        // Then only the failed items were sent again, and now every item succeeded
        Assert.True(resume.ExitCode == 0, resume.ToString());
        var batches = emu.Server.ListBatches().OrderBy(b => b.CreatedAt).ToList();
        Assert.Equal(2, batches.Count);
        Assert.Equal(failedIds.OrderBy(x => x), batches[1].CustomIds.OrderBy(x => x));
        var after = Csv.Parse(File.ReadAllText(ws.PathOf("out2.csv")));
        Assert.All(after.Skip(1), r => Assert.Equal("succeeded", r[4]));
    }

    [Theory]
    [InlineData("gpt-4o-mini", "cancelled")]
    [InlineData("claude-haiku-4-5", "ended")]
    public async Task Cancel_RunningJob_CancelsAtTheProviderAndEndsEveryItem(string model, string providerStatus)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(batchSeconds: 600);
        var input = ws.WriteReviews("reviews.csv", 6);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var jobId = (await cli.RunAsync("run", input, "--model", model, "--prompt", Prompt, "--detach")).StdOut.Trim();

        var cancel = await cli.RunAsync("cancel", jobId, "--wait", "20");
        var status = await cli.RunAsync("status", jobId, "--json");

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        var view = JsonDocument.Parse(status.StdOut).RootElement;
        Assert.Equal("Cancelled", view.GetProperty("status").GetString());
        Assert.Equal(0, view.GetProperty("pending").GetInt32());
        Assert.Equal(6, view.GetProperty("cancelled").GetInt32() + view.GetProperty("succeeded").GetInt32());
        Assert.Equal(providerStatus, emu.Server.ListBatches().Single().Status);
    }

    [Fact]
    public async Task Run_50001Rows_SplitsAtTheProviderLimit()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.WriteReviews("big.csv", 50_001);
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", Prompt, "--out", ws.PathOf("out.csv"));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal([50_000, 1], emu.Server.ListBatches().OrderBy(b => b.CreatedAt).Select(b => b.RequestCount).ToArray());
        Assert.Equal(50_002, File.ReadLines(ws.PathOf("out.csv")).Count());
    }

    [Fact]
    public async Task Export_AfterTheRun_WritesCsvAndJsonlFromTheStore()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.Write("in.csv", "id,text\na1,Bonjour à tous\na2,你好，世界\n");
        var cli = new CliRunner(ws).WithEmulator(emu);
        var run = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", "Say: {{text}}", "--id-column", "id", "--json");
        var jobId = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;

        var csv = await cli.RunAsync("export", jobId, "--format", "csv", "--out", ws.PathOf("e.csv"));
        var jsonl = await cli.RunAsync("export", jobId, "--format", "jsonl", "--out", ws.PathOf("e.jsonl"));

        Assert.Equal(0, csv.ExitCode);
        Assert.Equal(0, jsonl.ExitCode);
        var rows = Csv.Parse(File.ReadAllText(ws.PathOf("e.csv")));
        Assert.Contains("Say: Bonjour à tous", rows[1][2], StringComparison.Ordinal);
        Assert.Contains("Say: 你好，世界", rows[2][2], StringComparison.Ordinal);
        var lines = File.ReadAllLines(ws.PathOf("e.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["a1", "a2"], lines.Select(l => l.GetProperty("custom_id").GetString()));
        Assert.Equal("你好，世界", lines[1].GetProperty("input").GetProperty("text").GetString());
        Assert.Equal(["a1", "a2"], emu.Server.ListBatches().Single().CustomIds.OrderBy(x => x));
    }

    [Fact]
    public async Task Delete_RemovesTheJob()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);
        var run = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", Prompt, "--json");
        var jobId = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;

        var delete = await cli.RunAsync("delete", jobId);
        var status = await cli.RunAsync("status", jobId);

        Assert.Equal(0, delete.ExitCode);
        Assert.Equal(7, status.ExitCode);
        Assert.Contains($"no job '{jobId}'", status.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WithTextInAnyScript_JsonOutputAndJsonlFileKeepItReadable()
    {
        // Given a table in French, Chinese and emoji, and a job named the same way
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.Write("avis.csv", "text\nCafé crème très bon\n这个产品很好\nGreat 🎉 product\n");
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When it runs with --json and a JSON lines output
        var r = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", "Répète : {{text}}", "--name", "Avis café 中文 🎉", "--json", "--out", ws.PathOf("out.jsonl"));
        var jobs = await cli.RunAsync("jobs", "--json");

        // Then the names and texts are written as themselves, not as \u escapes
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("\"Avis café 中文 🎉\"", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("\"Avis café 中文 🎉\"", jobs.StdOut, StringComparison.Ordinal);
        Assert.Equal("Avis café 中文 🎉", JsonDocument.Parse(jobs.StdOut).RootElement[0].GetProperty("name").GetString());
        var lines = await File.ReadAllTextAsync(ws.PathOf("out.jsonl"));
        Assert.Contains("Répète : 这个产品很好", lines, StringComparison.Ordinal);
        Assert.Contains("Répète : Great 🎉 product", lines, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u", lines, StringComparison.Ordinal);
    }
}
