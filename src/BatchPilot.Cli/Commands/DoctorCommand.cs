using System.CommandLine;
using System.Globalization;
using BatchPilot.Cli.Doctor;
using BatchPilot.Cli.Ui;
using BatchPilot.Errors;

namespace BatchPilot.Cli.Commands;

/// <summary>
/// <c>batchpilot doctor</c>: a health check of configuration, keys, connectivity, store and emulator.
/// It does not go through the shared host, because that host stops at a malformed config file, which is
/// exactly what doctor must report (as a failed check) before going on with the other checks.
/// </summary>
internal static class DoctorCommand
{
    private static readonly Option<bool> Emulator = new("--emulator") { Description = "Also start the built-in emulator and check that it answers for both providers." };
    private static readonly Option<double> Timeout = new("--timeout") { Description = "Seconds each network check may take.", DefaultValueFactory = _ => 10 };

    public static Command Create(CliApp.Environment env)
    {
        ArgumentNullException.ThrowIfNull(env);
        var cmd = new Command(
            "doctor",
            "Check the setup: where each setting comes from, the API keys (masked, format), each configured provider reachable with its key accepted, the job store (opens, writable, schema, free disk), and the emulator. Exits non-zero when a check fails.")
        {
            Emulator, Timeout,
        };
        cmd.SetAction((pr, ct) => RunAsync(env, pr, ct));
        return cmd;
    }

    private static async Task<int> RunAsync(CliApp.Environment env, ParseResult pr, CancellationToken ct)
    {
        var json = pr.GetValue<bool>("--json");
        var verbose = pr.GetValue<bool>("--verbose");
        var ui = new Ui.Ui(env.Out, env.Error, json, verbose, env.Interactive);
        var seconds = pr.GetValue(Timeout);
        return await CliApp.GuardAsync(env, ui, async () =>
        {
            if (seconds is <= 0 or > 600 || double.IsNaN(seconds))
            {
                throw new InputException("must be between 0 and 600 seconds", field: "--timeout");
            }

            var checks = new DoctorChecks(new DoctorOptions
            {
                WorkingDirectory = env.WorkingDirectory,
                Variables = env.Variables,
                Time = env.Time,
                DbFlag = pr.GetValue<string?>("--db"),
                StartEmulator = pr.GetValue(Emulator),
                Timeout = TimeSpan.FromSeconds(seconds),
            });
            var report = await checks.RunAsync(ct).ConfigureAwait(false);
            if (json)
            {
                ui.WriteJson(report, OpsJson.Default.DoctorReport);
            }
            else
            {
                Render(ui, report);
            }

            return report.ExitCode;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>One line per check on stdout, written raw so a long line is never wrapped into two.</summary>
    private static void Render(Ui.Ui ui, DoctorReport report)
    {
        var areaWidth = report.Checks.Max(c => c.Area.Length) + 2;
        foreach (var c in report.Checks)
        {
            var status = c.Status.PadRight(9);
            if (ui.Interactive)
            {
                var color = c.Status switch
                {
                    CheckStatus.Ok => "32",
                    CheckStatus.Warning => "33",
                    _ => "31",
                };
                status = $"\u001b[{color}m{status}\u001b[0m";
            }

            var fix = c.Fix is null ? string.Empty : " → " + c.Fix.TrimEnd('.');
            ui.StdOut.WriteLine($"{status}{c.Area.PadRight(areaWidth)}{c.Name}: {c.Message.TrimEnd('.')}{fix}.");
        }

        var s = report.Summary;
        ui.StdOut.WriteLine();
        ui.StdOut.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Checks.Count} checks: {s.Ok} ok, {s.Warning} warning(s), {s.Failed} failed."));
        ui.StdOut.Flush();
    }
}
