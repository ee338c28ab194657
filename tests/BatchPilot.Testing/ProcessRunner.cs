using System.Diagnostics;

namespace BatchPilot.Testing;

/// <summary>Runs the built <c>batchpilot</c> tool as a child process (for crash tests and README checks).</summary>
public static class ProcessRunner
{
    /// <summary>Path of the built CLI assembly next to the test assembly.</summary>
    public static string CliDll
    {
        get
        {
            var local = Path.Combine(AppContext.BaseDirectory, "batchpilot.dll");
            if (File.Exists(local) && File.Exists(Path.Combine(AppContext.BaseDirectory, "batchpilot.runtimeconfig.json")))
            {
                return local;
            }

            throw new FileNotFoundException("batchpilot.dll (with its runtimeconfig) was not copied next to the tests", local);
        }
    }

    /// <summary>Runs the CLI with the given environment; kills it when <paramref name="timeout"/> passes.</summary>
    public static async Task<CliResult> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string?> environment, string workingDirectory, TimeSpan timeout, string? standardInput = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        if (standardInput is not null)
        {
            await p.StandardInput.WriteAsync(standardInput).ConfigureAwait(false);
        }

        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync().ConfigureAwait(false);
            throw new TimeoutException($"batchpilot {string.Join(' ', args)} did not finish within {timeout}: {await stderr.ConfigureAwait(false)}");
        }

        return new CliResult(p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
