using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary><c>batchpilot doctor</c> against the real emulator, real files and real SQLite stores.</summary>
public sealed class DoctorCommandTests
{
    private const string OpenAIKey = "sk-proj-test0000000000000000000000000000abcd";
    private const string AnthropicKey = "sk-ant-api03-test000000000000000000000000wxyz";

    [Fact]
    public async Task Doctor_AgainstTheEmulator_EveryCheckIsOk_AndKeysAreOnlyShownMasked()
    {
        // Given both providers pointed at the emulator with well-formed keys
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When doctor runs
        var r = await cli.RunAsync("doctor");

        // Then every check is ok, one line each, and the keys appear masked only
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = Lines(r.StdOut);
        Assert.Contains("ok       openai      api key: sk-proj-te…abcd from environment OPENAI_API_KEY.", lines);
        Assert.Contains("ok       anthropic   api key: sk-ant-api…wxyz from environment ANTHROPIC_API_KEY.", lines);
        Assert.Contains($"ok       openai      base url: {emu.OpenAIBaseUrl} (environment OPENAI_BASE_URL).", lines);
        Assert.Contains(lines, l => l.StartsWith($"ok       openai      connection: GET {emu.OpenAIBaseUrl}/models answered 200 in ", StringComparison.Ordinal) && l.EndsWith(" ms: reachable, key accepted.", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"ok       anthropic   connection: GET {emu.AnthropicBaseUrl}/v1/models answered 200 in ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"ok       emulator    configured: the emulator answers at {emu.AnthropicBaseUrl} (base URL of openai and anthropic): health ok", StringComparison.Ordinal));
        Assert.Contains($"ok       store       path: {ws.PathOf("jobs.db")} (environment BATCHPILOT_DB).", lines);
        Assert.Contains("ok       store       open: not created yet: it will be created on first use.", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("warning", StringComparison.Ordinal) || l.StartsWith("failed", StringComparison.Ordinal));
        Assert.Matches(@"^\d+ checks: \d+ ok, 0 warning\(s\), 0 failed\.$", lines[^1]);
        Assert.Equal(string.Empty, r.StdErr);
        AssertNoWholeKey(r, OpenAIKey, AnthropicKey);
        Assert.False(File.Exists(ws.PathOf("jobs.db")), "doctor must not create the store");
    }

    [Fact]
    public async Task Doctor_WrongKey_FailsWithTheProvidersRefusal_AndExitsWithTheKeyCode()
    {
        // Given an emulator that accepts only one key, and another key configured
        using var ws = new TempWorkspace();
        await using var server = await EmulatorServer.StartAsync(new EmulatorOptions { RequiredApiKey = "sk-proj-theRightKey00000000000000000000000000" });
        var cli = new CliRunner(ws)
            .With("OPENAI_BASE_URL", new Uri(server.BaseAddress, "v1").ToString())
            .With("OPENAI_API_KEY", OpenAIKey)
            .With("ANTHROPIC_BASE_URL", server.BaseAddress.ToString().TrimEnd('/'))
            .With("ANTHROPIC_API_KEY", AnthropicKey);

        var r = await cli.RunAsync("doctor");

        // Then both connections fail with the provider's 401, each with a fix, and the exit code is the missing-key one
        Assert.Equal(3, r.ExitCode);
        var lines = Lines(r.StdOut);
        var openai = Assert.Single(lines, l => l.StartsWith("failed   openai      connection: ", StringComparison.Ordinal));
        Assert.StartsWith("failed   openai      connection: OpenAI refused the key from environment OPENAI_API_KEY (HTTP 401 invalid_api_key: Incorrect API key provided: ", openai, StringComparison.Ordinal);
        Assert.EndsWith(") → the key is wrong, revoked, or lacks permission: create one at https://platform.openai.com/api-keys and set it there.", openai, StringComparison.Ordinal);
        Assert.Contains(
            "failed   anthropic   connection: Anthropic refused the key from environment ANTHROPIC_API_KEY (HTTP 401 authentication_error: invalid x-api-key) → the key is wrong, revoked, or lacks permission: create one at https://console.anthropic.com/settings/keys and set it there.",
            lines);
        Assert.Matches(@"^\d+ checks: \d+ ok, 0 warning\(s\), 2 failed\.$", lines[^1]);
        AssertNoWholeKey(r, OpenAIKey, AnthropicKey);
    }

    [Fact]
    public async Task Doctor_CorruptStore_FailsWithTheStoreExitCode_AndStillRunsTheOtherChecks()
    {
        using var ws = new TempWorkspace();
        ws.Write("jobs.db", "this is not a database at all, just text that is long enough to have a header........");

        var r = await new CliRunner(ws).RunAsync("doctor");

        Assert.Equal(5, r.ExitCode);
        var lines = Lines(r.StdOut);
        Assert.Contains(
            $"failed   store       open: {ws.PathOf("jobs.db")}: the job store is not a BatchPilot store (not a SQLite database, or corrupt) → point --db (or BATCHPILOT_DB) at another file, or move this one aside.",
            lines);
        Assert.Contains("ok       store       writable: the store file and its folder are writable.", lines);
        Assert.Contains(lines, l => l.StartsWith("ok       config      config/user.yaml: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ok       store       disk: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Doctor_GoodStore_ReportsItsSchemaVersion()
    {
        using var ws = new TempWorkspace();
        var cli = new CliRunner(ws);
        Assert.Equal(0, (await cli.RunAsync("jobs")).ExitCode);

        var r = await cli.RunAsync("doctor", "--json");

        var open = Check(JsonDocument.Parse(r.StdOut).RootElement, "store", "open");
        Assert.Equal("ok", open.GetProperty("status").GetString());
        Assert.Matches(@"^opened: schema version [1-9]\d*, 0 job\(s\)$", open.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Doctor_MalformedUserYaml_GivesLineAndColumn_AndStillChecksTheEnvironmentKeys()
    {
        // Given a config file with a bad indentation, and a key in the environment
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var yaml = ws.Write("config/user.yaml", "api_keys:\n  openai_api_key: a\n bad: b\n");
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("doctor");

        // Then the file is one failed line with its position and a fix, the exit code is bad input, and the rest still ran
        Assert.Equal(2, r.ExitCode);
        var lines = Lines(r.StdOut);
        Assert.Contains(
            $"failed   config      config/user.yaml: {yaml}: invalid YAML at line 3, column 2: While parsing a block mapping, did not find expected key → fix the file (indent with spaces, quote values containing ':' or '#').",
            lines);
        Assert.Contains("ok       openai      api key: sk-proj-te…abcd from environment OPENAI_API_KEY.", lines);
        Assert.Contains(lines, l => l.StartsWith("ok       openai      connection: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Doctor_UnclosedFlowSequenceInUserYaml_IsAFailedCheckNotACrash()
    {
        using var ws = new TempWorkspace();
        var yaml = ws.Write("config/user.yaml", "api_keys:\n  openai_api_key: [unclosed\n  anthropic_api_key: x\n");

        var r = await new CliRunner(ws).RunAsync("doctor");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains(
            $"failed   config      config/user.yaml: {yaml}: invalid YAML after line 2, column 19: an unclosed [ or {{, or a value that cannot be parsed → fix the file (indent with spaces, quote values containing ':' or '#', close every [ and {{).",
            Lines(r.StdOut));
    }

    [Fact]
    public async Task Doctor_MalformedDotEnv_NamesTheRow()
    {
        using var ws = new TempWorkspace();
        var env = ws.Write(".env", "OPENAI_API_KEY=sk-proj-x\nTHIS IS NOT A SETTING\n");

        var r = await new CliRunner(ws).RunAsync("doctor");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"failed   config      .env: {env}, row 2: this line is not KEY=VALUE → fix or remove the line.", Lines(r.StdOut));
    }

    [Fact]
    public async Task Doctor_KeyWithSurroundingSpaces_IsTrimmedAndAccepted()
    {
        using var ws = new TempWorkspace();
        await using var server = await EmulatorServer.StartAsync(new EmulatorOptions { RequiredApiKey = OpenAIKey });
        var cli = new CliRunner(ws)
            .With("OPENAI_BASE_URL", new Uri(server.BaseAddress, "v1").ToString())
            .With("OPENAI_API_KEY", "  " + OpenAIKey + " \t");

        var r = await cli.RunAsync("doctor");

        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = Lines(r.StdOut);
        Assert.Contains("ok       openai      api key: sk-proj-te…abcd from environment OPENAI_API_KEY; surrounding spaces trimmed.", lines);
        Assert.Contains(lines, l => l.StartsWith("ok       openai      connection: ", StringComparison.Ordinal) && l.EndsWith("reachable, key accepted.", StringComparison.Ordinal));
        AssertNoWholeKey(r, OpenAIKey);
    }

    [Fact]
    public async Task Doctor_KeyWithTheWrongPrefix_WarnsNamingTheExpectedPrefix()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu).With("ANTHROPIC_API_KEY", "sk-proj-notAnAnthropicKey00000000000000ffff");

        var r = await cli.RunAsync("doctor");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(
            "warning  anthropic   api key: sk-proj-no…ffff from environment ANTHROPIC_API_KEY does not start with 'sk-ant-' as anthropic keys do → check that this is an Anthropic key (create one at https://console.anthropic.com/settings/keys); servers other than Anthropic may accept other keys.",
            Lines(r.StdOut));
    }

    [Fact]
    public async Task Doctor_AnthropicKeyGivenToOpenAI_SaysSo()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu).With("OPENAI_API_KEY", AnthropicKey);

        var r = await cli.RunAsync("doctor");

        Assert.Contains(Lines(r.StdOut), l => l.StartsWith("warning  openai      api key: sk-ant-api…wxyz from environment OPENAI_API_KEY looks like an Anthropic key (it starts with 'sk-ant-'); OpenAI keys start with 'sk-'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Doctor_KeyWithASpaceInside_FailsWithoutCallingTheProvider()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu).With("OPENAI_API_KEY", "sk-proj-abcdefghij klmnopqrstuvwxyz0123");

        var r = await cli.RunAsync("doctor");

        Assert.Equal(3, r.ExitCode);
        var lines = Lines(r.StdOut);
        Assert.Contains("failed   openai      api key: sk-proj-ab…0123 from environment OPENAI_API_KEY contains a space or line break inside → copy the key again, as one piece, into OPENAI_API_KEY.", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("ok       openai      connection", StringComparison.Ordinal) || l.StartsWith("failed   openai      connection", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Doctor_NoKeys_AreWarningsNotFailures()
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).RunAsync("doctor");

        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = Lines(r.StdOut);
        Assert.Contains("warning  openai      api key: not configured → set api_keys.openai_api_key in config/user.yaml or the OPENAI_API_KEY environment variable (only needed to use OpenAI; --emulator needs no key).", lines);
        Assert.Contains("warning  anthropic   api key: not configured → set api_keys.anthropic_api_key in config/user.yaml or the ANTHROPIC_API_KEY environment variable (only needed to use Anthropic; --emulator needs no key).", lines);
        Assert.DoesNotContain(lines, l => l.Contains("connection:", StringComparison.Ordinal));

        var json = JsonDocument.Parse((await new CliRunner(ws).RunAsync("doctor", "--json")).StdOut).RootElement;
        var key = Setting(json, "openai.api_key");
        Assert.Equal("none", key.GetProperty("source").GetString());
        Assert.Equal("OPENAI_API_KEY or config/user.yaml api_keys.openai_api_key", key.GetProperty("origin").GetString());
        Assert.False(key.TryGetProperty("value", out _));
    }

    [Fact]
    public async Task Doctor_UnreachableBaseUrl_FailsWithTheProviderExitCode()
    {
        using var ws = new TempWorkspace();
        var cli = new CliRunner(ws).With("OPENAI_API_KEY", OpenAIKey).With("OPENAI_BASE_URL", "http://127.0.0.1:1/v1");

        var r = await cli.RunAsync("doctor");

        Assert.Equal(4, r.ExitCode);
        var line = Assert.Single(Lines(r.StdOut), l => l.StartsWith("failed   openai      connection: ", StringComparison.Ordinal));
        Assert.StartsWith("failed   openai      connection: cannot reach http://127.0.0.1:1: ", line, StringComparison.Ordinal);
        Assert.EndsWith(" → start the local server (for the emulator: 'batchpilot emulator --urls http://127.0.0.1:1'), or fix the base URL.", line, StringComparison.Ordinal);
        Assert.DoesNotContain(Lines(r.StdOut), l => l.Contains("emulator   configured", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Doctor_AnthropicBaseUrlEndingInV1_WarnsAndSaysWhatToSet()
    {
        using var ws = new TempWorkspace();
        var cli = new CliRunner(ws).With("ANTHROPIC_BASE_URL", "https://api.anthropic.com/v1");

        var r = await cli.RunAsync("doctor");

        Assert.Contains(
            "warning  anthropic   base url: https://api.anthropic.com/v1 (environment ANTHROPIC_BASE_URL) ends with /v1, but Anthropic base URLs are the host root (BatchPilot adds /v1/...) → set it to https://api.anthropic.com.",
            Lines(r.StdOut));
    }

    [Fact]
    public async Task Doctor_WithEmulatorFlag_StartsTheBuiltInEmulatorAndChecksBothApis()
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).RunAsync("doctor", "--emulator");

        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = Lines(r.StdOut);
        Assert.Contains(lines, l => l.StartsWith("ok       emulator    built-in: started at http://127.0.0.1:", StringComparison.Ordinal) && l.EndsWith("and answers: health ok, 0 batch(es), 0 file(s).", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ok       emulator    openai api: GET http://127.0.0.1:", StringComparison.Ordinal) && l.EndsWith("reachable, key accepted.", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ok       emulator    anthropic api: GET http://127.0.0.1:", StringComparison.Ordinal) && l.EndsWith("reachable, key accepted.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Doctor_Json_SaysWhereEachSettingCameFromAndWhatItOverrode()
    {
        // Given the OpenAI key set in the environment, in .env and in config/user.yaml (three different keys)
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        ws.Write(".env", "OPENAI_API_KEY=sk-proj-fromDotEnv000000000000000000000000001111\n");
        ws.Write("config/user.yaml", "api_keys:\n  openai_api_key: sk-proj-fromYaml00000000000000000000000000002222\n  anthropic_api_key: sk-ant-api03-fromYaml000000000000000000003333\n");
        var cli = new CliRunner(ws).WithEmulator(emu).With("ANTHROPIC_API_KEY", null);

        var r = await cli.RunAsync("doctor", "--json", "--db", ws.PathOf("flag.db"));

        // Then only JSON is printed, with the documented shape
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(string.Empty, r.StdErr);
        var d = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal(["ok", "exit_code", "summary", "checks", "settings"], d.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.True(d.GetProperty("ok").GetBoolean());
        Assert.Equal(0, d.GetProperty("exit_code").GetInt32());
        Assert.Equal(["ok", "warning", "failed"], d.GetProperty("summary").EnumerateObject().Select(p => p.Name).ToArray());
        Assert.All(d.GetProperty("checks").EnumerateArray(), c =>
        {
            Assert.Equal(["area", "name", "status", "message"], c.EnumerateObject().Select(p => p.Name).Take(4).ToArray());
            Assert.Contains(c.GetProperty("status").GetString(), new[] { "ok", "warning", "failed" });
        });

        // And the environment won over .env and config/user.yaml, each shown masked
        var key = Setting(d, "openai.api_key");
        Assert.Equal("sk-proj-te…abcd", key.GetProperty("value").GetString());
        Assert.Equal("environment", key.GetProperty("source").GetString());
        Assert.Equal("OPENAI_API_KEY", key.GetProperty("origin").GetString());
        var overridden = key.GetProperty("overridden").EnumerateArray().Select(o => (o.GetProperty("source").GetString(), o.GetProperty("origin").GetString(), o.GetProperty("value").GetString())).ToList();
        Assert.Equal(
            [(".env", ".env OPENAI_API_KEY", "sk-proj-fr…1111"), ("config/user.yaml", "config/user.yaml api_keys.openai_api_key", "sk-proj-fr…2222")],
            overridden);

        // And a key only in config/user.yaml comes from there; the --db flag wins over BATCHPILOT_DB
        var anthropic = Setting(d, "anthropic.api_key");
        Assert.Equal("config/user.yaml", anthropic.GetProperty("source").GetString());
        Assert.Equal("config/user.yaml api_keys.anthropic_api_key", anthropic.GetProperty("origin").GetString());
        var db = Setting(d, "store.path");
        Assert.Equal("flag", db.GetProperty("source").GetString());
        Assert.Equal(ws.PathOf("flag.db"), db.GetProperty("value").GetString());
        Assert.Equal("environment", db.GetProperty("overridden")[0].GetProperty("source").GetString());
        Assert.Equal(
            "ok", Check(d, "openai", "api key").GetProperty("status").GetString());
        Assert.Equal(
            "sk-proj-te…abcd from environment OPENAI_API_KEY; overrides .env OPENAI_API_KEY, config/user.yaml api_keys.openai_api_key",
            Check(d, "openai", "api key").GetProperty("message").GetString());
        AssertNoWholeKey(r, OpenAIKey, "sk-proj-fromDotEnv000000000000000000000000001111", "sk-proj-fromYaml00000000000000000000000000002222", "sk-ant-api03-fromYaml000000000000000000003333");
    }

    private static List<string> Lines(string text) => text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();

    private static JsonElement Check(JsonElement d, string area, string name) =>
        d.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("area").GetString() == area && c.GetProperty("name").GetString() == name);

    private static JsonElement Setting(JsonElement d, string name) =>
        d.GetProperty("settings").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);

    private static void AssertNoWholeKey(CliResult r, params string[] keys)
    {
        foreach (var key in keys)
        {
            Assert.DoesNotContain(key, r.StdOut + r.StdErr, StringComparison.Ordinal);
        }
    }
}
