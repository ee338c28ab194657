using BatchPilot.Cli;

namespace BatchPilot.Testing;

/// <summary>The result of one CLI invocation.</summary>
/// <param name="ExitCode">Process exit code.</param>
/// <param name="StdOut">Everything written to stdout.</param>
/// <param name="StdErr">Everything written to stderr.</param>
public sealed record CliResult(int ExitCode, string StdOut, string StdErr)
{
    /// <inheritdoc/>
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StdOut}\n--- stderr\n{StdErr}";
}

/// <summary>Runs the real command tree in-process with its own environment, working folder and store.</summary>
public sealed class CliRunner
{
    private readonly Dictionary<string, string?> _env = new(StringComparer.Ordinal);

    /// <summary>Creates a runner whose store and data folder live in <paramref name="workspace"/>.</summary>
    public CliRunner(TempWorkspace workspace)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        WorkingDirectory = workspace.Root;
        _env["BATCHPILOT_HOME"] = workspace.PathOf("home");
        _env["BATCHPILOT_DB"] = workspace.PathOf("jobs.db");
        _env["CI"] = "true";
    }

    /// <summary>The working directory of the CLI.</summary>
    public string WorkingDirectory { get; set; }

    /// <summary>Sets an environment variable seen by the CLI (null removes it).</summary>
    public CliRunner With(string name, string? value)
    {
        _env[name] = value;
        return this;
    }

    /// <summary>Points the CLI at an emulator for both providers, with fake keys.</summary>
    public CliRunner WithEmulator(EmulatorHost emulator)
    {
        ArgumentNullException.ThrowIfNull(emulator);
        return With("OPENAI_BASE_URL", emulator.OpenAIBaseUrl)
            .With("ANTHROPIC_BASE_URL", emulator.AnthropicBaseUrl)
            .With("OPENAI_API_KEY", "sk-proj-test0000000000000000000000000000abcd")
            .With("ANTHROPIC_API_KEY", "sk-ant-api03-test000000000000000000000000wxyz");
    }

    /// <summary>Runs a command line.</summary>
    public async Task<CliResult> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var env = new CliApp.Environment(stdout, stderr, WorkingDirectory, name => _env.TryGetValue(name, out var v) ? v : null, Interactive: false, TimeProvider.System);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var code = await CliApp.RunAsync(args, env, cts.Token).ConfigureAwait(false);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }
}
