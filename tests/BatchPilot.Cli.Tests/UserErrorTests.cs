using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

public sealed class UserErrorTests
{
    [Fact]
    public async Task Run_WithoutKey_FailsBeforeSendingWithTheMissingKeyLine()
    {
        using var ws = new TempWorkspace();
        var cli = new CliRunner(ws).With("OPENAI_API_KEY", null);

        var r = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", "x");

        Assert.Equal(3, r.ExitCode);
        Assert.Equal(
            "error: no API key for model gpt-4o-mini (provider openai): set api_keys.openai_api_key in config/user.yaml or the OPENAI_API_KEY environment variable, or add --emulator to try offline.",
            r.StdErr.Trim());
        Assert.Equal(string.Empty, r.StdOut);
    }

    [Fact]
    public async Task Run_AnthropicWithoutKey_NamesTheAnthropicPlaces()
    {
        using var ws = new TempWorkspace();
        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "claude-haiku-4-5", "--prompt", "x");

        Assert.Equal(3, r.ExitCode);
        Assert.Contains("provider anthropic", r.StdErr, StringComparison.Ordinal);
        Assert.Contains("api_keys.anthropic_api_key", r.StdErr, StringComparison.Ordinal);
        Assert.Contains("ANTHROPIC_API_KEY", r.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_KeyFromUserYaml_IsTrimmedAndNeverPrinted()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        const string key = "sk-proj-SECRETSECRETSECRET0123456789wxyz";
        ws.Write("config/user.yaml", $"api_keys:\n  openai_api_key: \"  {key} \\t\"\n");
        var cli = new CliRunner(ws).With("OPENAI_BASE_URL", emu.OpenAIBaseUrl);

        var r = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", "x {{id}}", "--json", "--out", ws.PathOf("o.csv"));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("SECRETSECRET", r.StdOut + r.StdErr, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETSECRET", File.ReadAllText(ws.PathOf("o.csv")), StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETSECRET", await File.ReadAllTextAsync(ws.PathOf("jobs.db")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_UnknownPlaceholder_NamesItAndTheColumns_AndStoresNothing()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", "Rate {{stars}}");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: '--prompt': the template uses the placeholder {{stars}} but the input " + ws.PathOf("r.csv") + " has no such column. Use one of: {{id}}, {{product}}, {{review_text}}.", r.StdErr.Trim());
        Assert.Empty(emu.Server.ListBatches());
        var jobs = await cli.RunAsync("jobs", "--json");
        Assert.Equal("[]", jobs.StdOut.Trim());
    }

    [Fact]
    public async Task Run_OutputIsTheInputFile_IsRefusedBeforeAnythingIsSent_AndTheInputIsKept()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);
        var input = ws.WriteReviews("r.csv", 2);
        var before = await File.ReadAllTextAsync(input);

        var r = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", "x {{id}}", "--out", input);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {input}: '--out': the output would overwrite the input file. Choose another path (by default the output is r.results.csv); a rerun reads the input again.", r.StdErr.Trim());
        Assert.Equal(before, await File.ReadAllTextAsync(input));
        Assert.Empty(emu.Server.ListBatches());
        Assert.Equal("[]", (await cli.RunAsync("jobs", "--json")).StdOut.Trim());
    }

    [Theory]
    [InlineData("out.json", "use .jsonl (one JSON object per item)")]
    [InlineData("out.xls", "use .xlsx")]
    [InlineData("out.pdf", "use .csv, .jsonl, .md, .docx or .xlsx")]
    public async Task Run_OutputExtensionOfAFormatNotWritten_IsRefusedBeforeAnythingIsSent(string name, string hint)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);
        var ext = Path.GetExtension(name);

        var r = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", "x {{id}}", "--out", ws.PathOf(name));

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {ws.PathOf(name)}: '--out': a {ext} file cannot be written (it would hold CSV). {char.ToUpperInvariant(hint[0])}{hint[1..]}.", r.StdErr.Trim());
        Assert.Empty(emu.Server.ListBatches());
        Assert.False(File.Exists(ws.PathOf(name)));
    }

    [Fact]
    public async Task Export_ToAJsonFile_IsRefused_ButAnExplicitFormatIsWritten()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);
        var run = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", "x {{id}}", "--out", ws.PathOf("o.csv"));
        Assert.True(run.ExitCode == 0, run.ToString());

        var refused = await cli.RunAsync("export", "r", "--out", ws.PathOf("r.json"));
        var forced = await cli.RunAsync("export", "r", "--out", ws.PathOf("r.json"), "--format", "jsonl");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("a .json file cannot be written", refused.StdErr, StringComparison.Ordinal);
        Assert.Equal(0, forced.ExitCode);
        Assert.Equal(2, File.ReadAllLines(ws.PathOf("r.json")).Length);
    }

    [Fact]
    public async Task Run_OutputFolderMissing_FailsBeforeAnythingIsSent()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", "x", "--out", ws.PathOf("nope/out.csv"));

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("the output folder does not exist", r.StdErr, StringComparison.Ordinal);
        Assert.Empty(emu.Server.ListBatches());
    }

    [Fact]
    public async Task Run_DuplicateIds_NamesTheRow_AndLeavesNoJob()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);
        var input = ws.Write("dup.csv", "id,text\na,one\nb,two\na,three\n");

        var r = await cli.RunAsync("run", input, "--model", "gpt-4o-mini", "--prompt", "{{text}}", "--id-column", "id");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {input}, row 4: 'id': the id 'a' appears more than once. Ids must be unique; fix the duplicate or leave out --id-column.", r.StdErr.Trim());
        Assert.Equal("[]", (await cli.RunAsync("jobs", "--json")).StdOut.Trim());
    }

    [Fact]
    public async Task Run_StartRowBeyondTheEnd_SaysWhereTheDataEnds()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", ws.WriteReviews("r.csv", 3), "--model", "gpt-4o-mini", "--prompt", "x", "--start-row", "10");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--start-row 10 is beyond the last data row (3)", r.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_OpenRouterModelInBatchMode_IsRefusedBeforeAnythingIsSent()
    {
        using var ws = new TempWorkspace();
        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("r.csv", 1), "--model", "openai/gpt-4o", "--prompt", "x", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: '--mode': batch mode is not available for openai/gpt-4o (provider openrouter): OpenRouter requests go through its synchronous API only. Add --mode sync.", r.StdErr.Trim());
        Assert.False(File.Exists(ws.PathOf("jobs.db")), "nothing may be recorded for a refused run");
    }

    [Theory]
    [InlineData("anthropic", "gpt-4o-mini", "error: '--model': the model 'gpt-4o-mini' is not a model of anthropic. Anthropic models start with claude- (e.g. claude-haiku-4-5).")]
    [InlineData("openai", "claude-haiku-4-5", "error: '--model': the model 'claude-haiku-4-5' is not a model of openai. Drop --provider openai to send claude-haiku-4-5 to Anthropic.")]
    public async Task Run_ModelOfAnotherProvider_IsRefused(string provider, string model, string line)
    {
        using var ws = new TempWorkspace();
        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("r.csv", 1), "--model", model, "--provider", provider, "--prompt", "x", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal(line, r.StdErr.Trim());
    }

    [Fact]
    public async Task Run_MissingInput_IsOneLine()
    {
        using var ws = new TempWorkspace();
        var r = await new CliRunner(ws).RunAsync("run", ws.PathOf("missing.csv"), "--model", "gpt-4o-mini", "--prompt", "x", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.StdErr.Trim().Split('\n'));
        Assert.Contains("missing.csv", r.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownFlag_IsAUsageError()
    {
        using var ws = new TempWorkspace();
        var r = await new CliRunner(ws).RunAsync("jobs", "--bogus");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--bogus", r.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorruptStore_IsOneLineWithAFix()
    {
        using var ws = new TempWorkspace();
        ws.Write("jobs.db", "this is not a database at all, just text that is long enough to have a header........");

        var r = await new CliRunner(ws).RunAsync("jobs");

        Assert.Equal(5, r.ExitCode);
        Assert.Contains("is not a BatchPilot store", r.StdErr, StringComparison.Ordinal);
        Assert.Single(r.StdErr.Trim().Split('\n'));
    }
}
