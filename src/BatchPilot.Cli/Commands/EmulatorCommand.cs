using System.CommandLine;
using BatchPilot.Emulator;
using BatchPilot.Errors;

namespace BatchPilot.Cli.Commands;

/// <summary><c>batchpilot emulator</c>: the provider emulator as a standalone server.</summary>
internal static class EmulatorCommand
{
    public static Command Create(JobCommands.Host host)
    {
        var urls = new Option<string>("--urls") { Description = "Address to listen on (loopback only unless --allow-remote).", DefaultValueFactory = _ => "http://127.0.0.1:8089" };
        var duration = new Option<double>("--batch-duration") { Description = "Seconds each batch takes from creation to completion.", DefaultValueFactory = _ => 10 };
        var latency = new Option<int>("--latency-ms") { Description = "Added latency of the synchronous endpoints, in milliseconds." };
        var rpm = new Option<int?>("--rpm") { Description = "Requests per minute allowed on the synchronous endpoints (enforced per second)." };
        var tpm = new Option<int?>("--tpm") { Description = "Tokens per minute allowed on the synchronous endpoints (enforced per second): OpenAI input plus requested output, Anthropic input tokens." };
        var otpm = new Option<int?>("--otpm") { Description = "Anthropic output tokens per minute allowed, counted from max_tokens (enforced per second)." };
        var fault = new Option<string[]>("--fault") { Description = "Inject a fault (repeatable); syntax in docs/emulator.md.", AllowMultipleArgumentsPerToken = false };
        var faults = new Option<string?>("--faults") { Description = "A YAML or JSON fault scenario file." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Keep state here so a restart continues (default: a temporary folder)." };
        var requireKey = new Option<string?>("--require-key") { Description = "Accept only this API key (default: any key)." };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow binding a non-loopback address." };
        var cmd = new Command("emulator", "Run the local emulator of the OpenAI and Anthropic APIs (files, batches, chat, messages) with fault injection.")
        {
            urls, duration, latency, rpm, tpm, otpm, fault, faults, dataDir, requireKey, allowRemote,
        };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            var scenario = FaultScenario.None;
            if (pr.GetValue(faults) is { } file)
            {
                if (!File.Exists(file))
                {
                    throw new InputException("file not found", file: file, field: "--faults");
                }

                scenario = LoadScenario(() => FaultScenario.Load(file), file, "--faults");
            }

            if (pr.GetValue(fault) is { Length: > 0 } flags)
            {
                if (scenario != FaultScenario.None)
                {
                    throw new InputException("use either --fault flags or a --faults file, not both", field: "--fault");
                }

                scenario = LoadScenario(() => FaultScenario.ParseFlags(flags), null, "--fault");
            }

            await using var server = await EmulatorServer.StartAsync(
                new EmulatorOptions
                {
                    Urls = pr.GetValue(urls)!,
                    BatchDuration = TimeSpan.FromSeconds(pr.GetValue(duration)),
                    LatencyMs = pr.GetValue(latency),
                    RequestsPerMinute = pr.GetValue(rpm),
                    TokensPerMinute = pr.GetValue(tpm),
                    OutputTokensPerMinute = pr.GetValue(otpm),
                    Faults = scenario,
                    DataDirectory = pr.GetValue(dataDir),
                    RequiredApiKey = pr.GetValue(requireKey),
                    AllowNonLoopback = pr.GetValue(allowRemote),
                },
                token).ConfigureAwait(false);
            ctx.Ui.Line($"BatchPilot emulator listening on {server.BaseAddress}");
            ctx.Ui.Line($"  OpenAI:    OPENAI_BASE_URL={new Uri(server.BaseAddress, "v1")}");
            ctx.Ui.Line($"  Anthropic: ANTHROPIC_BASE_URL={server.BaseAddress.ToString().TrimEnd('/')}");
            ctx.Ui.Line($"  OpenRouter: OPENROUTER_BASE_URL={new Uri(server.BaseAddress, "api/v1")}");
            ctx.Ui.Line($"  Azure:     AZURE_OPENAI_ENDPOINT={server.BaseAddress.ToString().TrimEnd('/')}");
            ctx.Ui.Info("Press Ctrl+C to stop.");
            try
            {
                await server.WaitForShutdownAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }

            ctx.Ui.Info("Emulator stopped.");
            return ExitCodes.Success;
        }, ct));
        return cmd;
    }

    private static FaultScenario LoadScenario(Func<FaultScenario> load, string? file, string option)
    {
        try
        {
            return load();
        }
        catch (FaultScenarioException ex)
        {
            throw new InputException($"line {ex.Line}, column {ex.Column}: {ex.Problem}", ex, file: file ?? (ex.File == "<inline>" ? null : ex.File), field: option, hint: "see docs/emulator.md for the syntax");
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidDataException or IOException)
        {
            throw new InputException(ex.Message, ex, file: file, field: option, hint: "see docs/emulator.md for the syntax");
        }
    }
}
