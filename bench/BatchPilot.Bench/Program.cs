using System.Diagnostics;
using System.Globalization;
using System.Text;

// End-to-end benchmark: a CSV job through the real CLI on the built-in emulator (batches complete at once).
// Usage: BatchPilot.Bench <path to batchpilot.dll> [rows...]   (default rows: 100000 1000000)
if (args.Length < 1 || !File.Exists(args[0]))
{
    Console.Error.WriteLine("usage: BatchPilot.Bench <path to batchpilot.dll> [rows...]");
    return 2;
}

var cli = args[0];
var sizes = args.Length > 1 ? args[1..].Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [100_000, 1_000_000];
var work = Path.Combine(Path.GetTempPath(), "batchpilot-bench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(work);
var results = new List<(int Rows, double Seconds, double PeakMb, long Bytes)>();
try
{
    foreach (var rows in sizes)
    {
        var input = Path.Combine(work, $"rows-{rows}.csv");
        var bytes = Generate(input, rows);
        var (seconds, peakMb, exit, err) = Run(cli, work, input, rows);
        if (exit != 0)
        {
            Console.Error.WriteLine($"run of {rows} rows failed with exit {exit}:\n{err}");
            return 1;
        }

        var outLines = CountLines(Path.Combine(work, $"out-{rows}.csv"));
        if (outLines != rows + 1)
        {
            Console.Error.WriteLine($"output of {rows} rows has {outLines} lines");
            return 1;
        }

        results.Add((rows, seconds, peakMb, bytes));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"csv-batch-e2e rows={rows,9} input_mb={bytes / 1048576.0,7:0.0} wall_s={seconds,7:0.0} peak_rss_mb={peakMb,6:0} rows_per_s={rows / seconds,9:0}"));
    }

    if (results.Count >= 2)
    {
        var ratio = results[^1].PeakMb / results[0].PeakMb;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"csv-batch-e2e peak_rss_ratio({results[^1].Rows}/{results[0].Rows})={ratio:0.00} (target <= 1.3; peak < 300 MB; 1,000,000 rows < 120 s)"));
    }

    return 0;
}
finally
{
    Directory.Delete(work, recursive: true);
}

static long Generate(string path, int rows)
{
    string[] words = ["good", "bad", "great", "terrible", "fine", "okay", "excellent", "poor", "decent", "awful", "lovely", "broken", "sturdy", "cheap", "pricey", "très", "bien", "很好"];
    var random = new Random(42);
    using (var w = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16))
    {
        w.Write("review_id,product,rating,review_text\n");
        var sb = new StringBuilder();
        for (var i = 1; i <= rows; i++)
        {
            sb.Clear();
            for (var k = 0; k < 20; k++)
            {
                sb.Append(k == 0 ? string.Empty : " ").Append(words[random.Next(words.Length)]);
            }

            w.Write(string.Create(CultureInfo.InvariantCulture, $"R{i:0000000},\"Product {i % 500}, model {i % 7}\",{random.Next(1, 6)},\"{sb}\"\n"));
        }
    }

    return new FileInfo(path).Length;
}

static (double Seconds, double PeakMb, int Exit, string Err) Run(string cli, string work, string input, int rows)
{
    var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = work };
    foreach (var a in new[] { cli, "run", input, "--model", "gpt-4o-mini", "--prompt", "Classify this review of {{product}} ({{rating}} stars): {{review_text}}", "--emulator", "--emulator-batch-duration", "0", "--out", Path.Combine(work, $"out-{rows}.csv"), "--check-interval", "0.5", "--json" })
    {
        psi.ArgumentList.Add(a);
    }

    psi.Environment["BATCHPILOT_HOME"] = Path.Combine(work, $"home-{rows}");
    psi.Environment["CI"] = "true";
    var sw = Stopwatch.StartNew();
    using var p = Process.Start(psi)!;
    var stdout = p.StandardOutput.ReadToEndAsync();
    var stderr = p.StandardError.ReadToEndAsync();
    double peakKb = 0;
    while (!p.WaitForExit(100))
    {
        peakKb = Math.Max(peakKb, ReadHwm(p.Id));
        if (sw.Elapsed > TimeSpan.FromMinutes(15))
        {
            p.Kill(entireProcessTree: true);
            break;
        }
    }

    sw.Stop();
    return (sw.Elapsed.TotalSeconds, peakKb / 1024, p.ExitCode, stderr.Result + stdout.Result);
}

static double ReadHwm(int pid)
{
    try
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
    }
    catch (IOException)
    {
    }
    catch (UnauthorizedAccessException)
    {
    }

    return 0;
}

static long CountLines(string path)
{
    long n = 0;
    using var r = new StreamReader(path);
    var quoted = false;
    int c;
    while ((c = r.Read()) >= 0)
    {
        if (c == '"')
        {
            quoted = !quoted;
        }
        else if (c == '\n' && !quoted)
        {
            n++;
        }
    }

    return n;
}
