using System.Diagnostics;
using System.Globalization;

namespace BatchPilot.IO.Bench;

/// <summary>
/// One measurement in its own process: the parent starts this program again with <c>--child</c>, the child does the work
/// and prints one <c>result</c> line with what it measured and its peak resident set (VmHWM from /proc/self/status, the
/// kernel's high-water mark: exact, not sampled).
/// </summary>
internal static class Child
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(15);

    /// <summary>The child's side: runs the measurement named by <paramref name="args"/>.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var result = args switch
        {
            ["read", var input] => PrepareBench.Read(input),
            ["prepare", var input, var template, var provider, var outDir] => await PrepareBench.PrepareAsync(input, template, provider, outDir),
            ["export", var db, var format, var output] => await ExportBench.ExportAsync(db, format, output),
            ["fill", var db, var rows] => await ExportBench.FillTimedAsync(db, int.Parse(rows, CultureInfo.InvariantCulture)),
            _ => null,
        };
        if (result is null)
        {
            Console.Error.WriteLine("usage: BatchPilot.IO.Bench --child read|prepare|export|fill ...");
            return 2;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"result {result.Rows} {result.Seconds:R} {result.CpuSeconds:R} {result.OutBytes} {result.Files} {PeakKb()}"));
        return 0;
    }

    /// <summary>The parent's side: runs a child and returns its result and peak RSS in MB.</summary>
    public static async Task<(Result Result, double PeakMb)> StartAsync(string[] args)
    {
        var self = typeof(Child).Assembly.Location;
        var host = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            psi.ArgumentList.Add(self);
        }

        psi.ArgumentList.Add("--child");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new BenchFailedException("could not start a child process");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new BenchFailedException($"child '{string.Join(' ', args)}' took more than {Timeout.TotalMinutes:0} minutes");
        }

        var line = (await stdout).Split('\n').LastOrDefault(l => l.StartsWith("result ", StringComparison.Ordinal));
        if (p.ExitCode != 0 || line is null)
        {
            throw new BenchFailedException($"child '{string.Join(' ', args)}' failed with exit {p.ExitCode}:\n{await stderr}{await stdout}");
        }

        var f = line.Split(' ');
        var result = new Result(
            long.Parse(f[1], CultureInfo.InvariantCulture),
            double.Parse(f[2], CultureInfo.InvariantCulture),
            double.Parse(f[3], CultureInfo.InvariantCulture),
            long.Parse(f[4], CultureInfo.InvariantCulture),
            long.Parse(f[5], CultureInfo.InvariantCulture));
        return (result, long.Parse(f[6], CultureInfo.InvariantCulture) / 1024.0);
    }

    private static long PeakKb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
