using System.CommandLine;
using BatchPilot.Cli.Commands;
using BatchPilot.Cli.Config;
using BatchPilot.Errors;
using BatchPilot.Providers;
using BatchPilot.Running;

namespace BatchPilot.Cli;

/// <summary>The command tree and the top-level error handling: user mistakes become one line and an exit code.</summary>
public static class CliApp
{
    private static readonly Option<string?> Db = new("--db") { Description = "Job store file (default: BATCHPILOT_DB, else batchpilot.db in the per-user data folder).", Recursive = true };
    private static readonly Option<bool> Json = new("--json") { Description = "Machine-readable JSON on stdout.", Recursive = true };
    private static readonly Option<bool> Verbose = new("--verbose") { Description = "Show technical details (stack traces) of errors.", Recursive = true };

    /// <summary>The environment the CLI runs in (injectable for tests).</summary>
    public sealed record Environment(TextWriter Out, TextWriter Error, string WorkingDirectory, Func<string, string?> Variables, bool Interactive, TimeProvider Time)
    {
        /// <summary>The real process environment.</summary>
        public static Environment Process() => new(
            Console.Out,
            Console.Error,
            Directory.GetCurrentDirectory(),
            System.Environment.GetEnvironmentVariable,
            !Console.IsOutputRedirected && !Console.IsErrorRedirected && !string.Equals(System.Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
            TimeProvider.System);
    }

    /// <summary>Builds the root command for an environment.</summary>
    public static RootCommand Build(Environment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        var root = new RootCommand("BatchPilot: run large LLM workloads through the OpenAI and Anthropic Batch APIs (half price), with a persistent job history and a local emulator.");
        root.Options.Add(Db);
        root.Options.Add(Json);
        root.Options.Add(Verbose);
        JobCommands.Host host = (pr, body, ct) => HostAsync(env, pr, body, ct);
        root.Subcommands.Add(RunCommand.Create((pr, body, ct) => HostAsync(env, pr, body, ct)));
        root.Subcommands.Add(SubmitFileCommand.Create(host));
        root.Subcommands.Add(JobCommands.Jobs(host));
        root.Subcommands.Add(JobCommands.Status(host));
        root.Subcommands.Add(JobCommands.Watch(host));
        root.Subcommands.Add(JobCommands.Collect(host));
        root.Subcommands.Add(JobCommands.Resume(host));
        root.Subcommands.Add(JobCommands.Cancel(host));
        root.Subcommands.Add(JobCommands.Delete(host));
        root.Subcommands.Add(JobCommands.Export(host));
        root.Subcommands.Add(EstimateCommand.Create(host));
        root.Subcommands.Add(CostsCommand.Create(host));
        root.Subcommands.Add(PreviewCommand.Create(host));
        root.Subcommands.Add(ServeCommand.Create(host));
        root.Subcommands.Add(EmulatorCommand.Create(host));
        root.Subcommands.Add(DiagnoseCommand.Create(host));
        root.Subcommands.Add(DoctorCommand.Create(env));
        return root;
    }

    /// <summary>Parses and runs a command line; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, Environment env, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(env);
        var root = Build(env);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                await env.Error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            }

            await env.Error.WriteLineAsync("See 'batchpilot --help' (or 'batchpilot COMMAND --help').").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { Output = env.Out, Error = env.Error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> HostAsync(Environment env, ParseResult pr, Func<CliContext, CancellationToken, Task<int>> body, CancellationToken ct)
    {
        var json = pr.GetValue(Json);
        var verbose = pr.GetValue(Verbose);
        var ui = new Ui.Ui(env.Out, env.Error, json, verbose, env.Interactive);
        return await GuardAsync(env, ui, async () =>
        {
            var settings = Settings.Load(env.WorkingDirectory, env.Variables);
            await using var ctx = new CliContext(new GlobalOptions(pr.GetValue(Db), json, verbose), ui, settings, env.Time);
            return await body(ctx, ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a verb's body and turns what escapes it into one line and an exit code: user mistakes, refused keys,
    /// provider failures (nothing is lost), interruption, and bugs (details with --verbose).
    /// </summary>
    internal static async Task<int> GuardAsync(Environment env, Ui.Ui ui, Func<Task<int>> body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(ui);
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (InputException ex)
        {
            ui.Error(ex.ToUserLine());
            if (ui.Verbose && ex.InnerException is not null)
            {
                await env.Error.WriteLineAsync(ex.InnerException.ToString()).ConfigureAwait(false);
            }

            return ex.ExitCode;
        }
        catch (ProviderException ex) when (ex.IsAuthError)
        {
            ui.Error(JobEngine.KeyRefused(ex).ToUserLine());
            return ExitCodes.MissingKey;
        }
        catch (ProviderException ex)
        {
            ui.Error($"{ex.Provider}: {ex.Message.TrimEnd('.')}. Nothing is lost: rerun the same command to continue.");
            if (ui.Verbose)
            {
                await env.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return ExitCodes.ProviderError;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            ui.Error("interrupted. Everything done so far is saved: rerun the same command to continue.");
            return ExitCodes.Cancelled;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ui.Error($"internal error: {ex.Message} (run with --verbose for details, and please report it).");
            if (ui.Verbose)
            {
                await env.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return ExitCodes.InternalError;
        }
    }
}
