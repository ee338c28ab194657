using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// The real command line against the emulator for the providers beyond OpenAI and Anthropic (OpenRouter, Azure OpenAI),
/// the Responses API, rate limits from config/user.yaml, and <c>estimate --exact</c>.
/// </summary>
public sealed class SyncProvidersCliTests
{
    private const string OpenRouterKey = "sk-or-v1-0000000000000000000000000000000000000000000000000000000000abcd";
    private const string AzureKey = "0123456789abcdef0123456789abcdef";

    [Fact]
    public async Task RunModeSync_AVendorModelId_GoesToOpenRouterWithItsKey()
    {
        // Given the emulator standing in for OpenRouter, and an OpenRouter key
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { RequiredApiKey = OpenRouterKey });
        var cli = new CliRunner(ws)
            .With("OPENROUTER_BASE_URL", new Uri(emu.BaseAddress, "api/v1").ToString())
            .With("OPENROUTER_API_KEY", OpenRouterKey);

        // When a vendor/model id runs in sync mode
        var r = await cli.RunAsync("run", ws.WriteReviews("in.csv", 3), "--model", "meta-llama/llama-3.1-8b-instruct:free", "--prompt", "Classify {{review_text}}", "--mode", "sync", "--out", ws.PathOf("out.csv"), "--json");

        // Then every row went to OpenRouter's chat completions, and the key never shows
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(3, emu.Counters["POST /api/v1/chat/completions"]);
        var view = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal("openrouter", view.GetProperty("provider").GetString());
        Assert.Equal(3, view.GetProperty("succeeded").GetInt32());
        Assert.DoesNotContain(OpenRouterKey, r.StdOut + r.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_AVendorModelId_WithoutAnOpenRouterKey_NamesBothPlacesToSetIt()
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).With("OPENAI_API_KEY", "sk-proj-test0000000000000000000000000000abcd")
            .RunAsync("run", ws.WriteReviews("in.csv", 1), "--model", "openai/gpt-4o-mini", "--prompt", "x", "--mode", "sync");

        Assert.Equal(3, r.ExitCode);
        Assert.Equal("error: no API key for model openai/gpt-4o-mini (provider openrouter): set api_keys.openrouter_api_key in config/user.yaml or the OPENROUTER_API_KEY environment variable, or add --emulator to try offline.", r.StdErr.Trim());
    }

    [Theory]
    [InlineData("OpenAI/gpt-4o-mini")]
    [InlineData("openai/gpt 4o")]
    [InlineData("openai/gpt-4o/mini")]
    [InlineData("openai/")]
    public async Task Run_AMalformedVendorModelId_IsOneLineNamingTheExpectedShape(string model)
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("in.csv", 1), "--model", model, "--prompt", "x", "--mode", "sync", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal(
            $"error: '--model': the model id '{model}' is not an OpenRouter model id: expected vendor/model (a lower-case vendor, one '/', the model name), e.g. openai/gpt-4o-mini or meta-llama/llama-3.1-8b-instruct:free. Copy the id from openrouter.ai/models, or give --provider openai to send it to another OpenAI-compatible server (--base-url).",
            r.StdErr.Trim());
    }

    [Fact]
    public async Task RunModeSync_AVendorModelIdWithProviderOpenAI_GoesToTheOpenAICompatibleServer()
    {
        // vLLM serves Hugging Face ids such as meta-llama/Llama-3.1-8B-Instruct
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", ws.WriteReviews("in.csv", 2), "--model", "meta-llama/Llama-3.1-8B-Instruct", "--provider", "openai", "--prompt", "x {{review_text}}", "--mode", "sync", "--out", ws.PathOf("out.csv"));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(2, emu.Server.Counters["POST /v1/chat/completions"]);
    }

    [Fact]
    public async Task ResumeInBatchMode_OfAnOpenRouterJob_IsRefusedBeforeAnythingIsSent()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions());
        var cli = new CliRunner(ws).With("OPENROUTER_BASE_URL", new Uri(emu.BaseAddress, "api/v1").ToString()).With("OPENROUTER_API_KEY", OpenRouterKey);
        var run = await cli.RunAsync("run", ws.WriteReviews("in.csv", 2), "--model", "openai/gpt-4o-mini", "--prompt", "x", "--mode", "sync", "--out", ws.PathOf("out.csv"), "--json");
        var id = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;

        var r = await cli.RunAsync("resume", id, "--mode", "batch");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: '--mode': batch mode is not available for openai/gpt-4o-mini (provider openrouter): OpenRouter requests go through its synchronous API only. Add --mode sync.", r.StdErr.Trim());
        Assert.Empty(emu.ListBatches());
    }

    [Fact]
    public async Task RunModeSync_Azure_SendsToTheDeploymentWithTheApiVersionAndTheApiKeyHeader()
    {
        // Given the emulator standing in for an Azure OpenAI resource that accepts one key
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { RequiredApiKey = AzureKey });
        var cli = new CliRunner(ws)
            .With("AZURE_OPENAI_ENDPOINT", emu.BaseAddress.ToString().TrimEnd('/'))
            .With("AZURE_OPENAI_API_KEY", AzureKey);

        // When a job runs on a deployment through --provider azure
        var r = await cli.RunAsync("run", ws.WriteReviews("in.csv", 3), "--model", "prod-gpt4o", "--provider", "azure", "--api-version", "2025-01-01-preview",
            "--prompt", "Classify {{review_text}}", "--mode", "sync", "--out", ws.PathOf("out.csv"), "--json");

        // Then each row reached the deployment's path, and the answers are in the output
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(3, emu.Counters["POST /openai/deployments/{deployment}/chat/completions"]);
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("out.csv")));
        Assert.Contains("Classify Review number 2,", rows[2][3], StringComparison.Ordinal);
        Assert.Equal("azure", JsonDocument.Parse(r.StdOut).RootElement.GetProperty("provider").GetString());
    }

    [Fact]
    public async Task Run_Azure_WithoutAnEndpoint_SaysWhereToSetIt()
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).With("AZURE_OPENAI_API_KEY", AzureKey)
            .RunAsync("run", ws.WriteReviews("in.csv", 1), "--model", "prod-gpt4o", "--provider", "azure", "--prompt", "x", "--mode", "sync");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: '--base-url': no Azure OpenAI endpoint: set AZURE_OPENAI_ENDPOINT or base_urls.azure in config/user.yaml to your resource URL (https://NAME.openai.azure.com). Or give --base-url.", r.StdErr.Trim());
    }

    [Fact]
    public async Task Run_Azure_InBatchMode_IsRefused()
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("in.csv", 1), "--model", "prod-gpt4o", "--provider", "azure", "--prompt", "x", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: '--mode': batch mode is not available for prod-gpt4o (provider azure): Azure OpenAI batch deployments are not supported yet. Add --mode sync.", r.StdErr.Trim());
    }

    [Theory]
    [InlineData("sync", "POST /v1/responses")]
    [InlineData("batch", "POST /v1/batches")]
    public async Task Run_ApiResponses_SendsThroughTheResponsesApi(string mode, string route)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", ws.WriteReviews("in.csv", 3), "--model", "gpt-4o-mini", "--api", "responses", "--system", "Be brief.", "--prompt", "Classify {{review_text}}",
            "--mode", mode, "--out", ws.PathOf("out.csv"), "--check-interval", "1");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(mode == "sync" ? 3 : 1, emu.Server.Counters[route]);
        Assert.False(emu.Server.Counters.Snapshot().ContainsKey("POST /v1/chat/completions"));
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("out.csv")));
        Assert.Contains("Classify Review number 3,", rows[3][3], StringComparison.Ordinal);
        if (mode == "batch")
        {
            using var http = new HttpClient { BaseAddress = emu.Server.BaseAddress };
            http.DefaultRequestHeaders.Add("Authorization", "Bearer sk-test");
            var list = JsonDocument.Parse(await http.GetStringAsync("v1/batches")).RootElement;
            Assert.Equal("/v1/responses", list.GetProperty("data")[0].GetProperty("endpoint").GetString());
        }
    }

    [Fact]
    public async Task Run_ApiResponses_ForAnthropic_IsRefused()
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).RunAsync("run", ws.WriteReviews("in.csv", 1), "--model", "claude-haiku-4-5", "--api", "responses", "--prompt", "x", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: '--api': the Responses API is used with OpenAI only, not anthropic. Drop --api responses (chat completions are used).", r.StdErr.Trim());
    }

    [Fact]
    public async Task RunModeSync_RateLimitsFromConfig_ApplyToADottedModelName()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        ws.Write("config/user.yaml", "rate_limits:\n  gpt-4.1-mini:\n    rpm: 1_200\n");
        var cli = new CliRunner(ws).WithEmulator(emu);

        var r = await cli.RunAsync("run", ws.WriteReviews("in.csv", 2), "--model", "gpt-4.1-mini", "--prompt", "x", "--mode", "sync", "--out", ws.PathOf("out.csv"));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(1200 requests/min;", r.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunModeSync_ABadRateLimitInConfig_NamesTheFileLineAndKey()
    {
        using var ws = new TempWorkspace();
        ws.Write("config/user.yaml", "rate_limits:\n  openrouter:\n    rpm: fast\n");

        var r = await new CliRunner(ws).With("OPENROUTER_API_KEY", OpenRouterKey)
            .RunAsync("run", ws.WriteReviews("in.csv", 1), "--model", "openai/gpt-4o-mini", "--prompt", "x", "--mode", "sync", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {ws.PathOf("config/user.yaml")}, row 2: 'rate_limits.openrouter.rpm': 'fast' is not a positive number. Give a number of requests or tokens per minute, e.g. 500.", r.StdErr.Trim());
    }

    [Fact]
    public async Task EstimateExact_ForAnAnthropicModel_CountsEachRequestWithCountTokens()
    {
        // Given an Anthropic key and the emulator's count_tokens
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);
        var input = ws.WriteReviews("in.csv", 5);
        var offline = JsonDocument.Parse((await cli.RunAsync("estimate", input, "--model", "claude-haiku-4-5", "--prompt", "Classify {{review_text}}", "--json")).StdOut).RootElement;

        // When the estimate is exact
        var r = await cli.RunAsync("estimate", input, "--model", "claude-haiku-4-5", "--prompt", "Classify {{review_text}}", "--exact", "--json");

        // Then each request was counted once by count_tokens, and the basis says so
        Assert.True(r.ExitCode == 0, r.ToString());
        var exact = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal("count_tokens", exact.GetProperty("input_tokens_basis").GetString());
        Assert.Equal("estimate", offline.GetProperty("input_tokens_basis").GetString());
        Assert.Equal(5, emu.Server.Counters["POST /v1/messages/count_tokens"]);
        Assert.Equal(5, exact.GetProperty("items").GetInt32());
        Assert.NotEqual(offline.GetProperty("input_tokens").GetInt64(), exact.GetProperty("input_tokens").GetInt64());
        Assert.False(File.Exists(ws.PathOf("jobs.db")), "an estimate must not create the store");
    }

    [Fact]
    public async Task EstimateExact_WithoutAKey_SaysWhereToSetIt()
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).RunAsync("estimate", ws.WriteReviews("in.csv", 1), "--model", "claude-haiku-4-5", "--prompt", "x", "--exact");

        Assert.Equal(3, r.ExitCode);
        Assert.Equal("error: '--exact': --exact asks Anthropic's count_tokens endpoint, which needs a key: set api_keys.anthropic_api_key in config/user.yaml or the ANTHROPIC_API_KEY environment variable. Or drop --exact for the offline estimate.", r.StdErr.Trim());
    }

    [Fact]
    public async Task Doctor_WithOpenRouterAndAzureConfigured_ChecksEachKeyMaskedAndReachable()
    {
        // Given OpenRouter and Azure both pointed at the emulator, with keys
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var root = emu.Server.BaseAddress.ToString().TrimEnd('/');
        var cli = new CliRunner(ws).WithEmulator(emu)
            .With("OPENROUTER_BASE_URL", root + "/api/v1").With("OPENROUTER_API_KEY", OpenRouterKey)
            .With("AZURE_OPENAI_ENDPOINT", root).With("AZURE_OPENAI_API_KEY", AzureKey);

        // When doctor runs
        var r = await cli.RunAsync("doctor");

        // Then each new provider's key is checked, shown masked, and its connection verified with its own call
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.StdOut.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains("ok       openrouter  api key: sk-or-v1-0…abcd from environment OPENROUTER_API_KEY.", lines);
        Assert.Contains(lines, l => l.StartsWith($"ok       openrouter  connection: GET {root}/api/v1/key answered 200 in ", StringComparison.Ordinal));
        Assert.Contains("ok       azure       api key: 0123456789…cdef from environment AZURE_OPENAI_API_KEY.", lines);
        Assert.Contains(lines, l => l.StartsWith($"ok       azure       connection: GET {root}/openai/models?api-version=2024-10-21 answered 200 in ", StringComparison.Ordinal));
        Assert.DoesNotContain(OpenRouterKey, r.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain(AzureKey, r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_WithoutOpenRouterOrAzure_SaysTheyAreNotConfigured_WithoutAWarning()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();

        var r = await new CliRunner(ws).WithEmulator(emu).RunAsync("doctor");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("ok       openrouter  api key: not configured (only needed for vendor/model ids through OpenRouter: set OPENROUTER_API_KEY).", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("ok       azure       api key: not configured (only needed for --provider azure: set AZURE_OPENAI_API_KEY).", r.StdOut, StringComparison.Ordinal);
    }
}
