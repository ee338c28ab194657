using System.Diagnostics;
using System.Globalization;

namespace BatchPilot.IO.Bench;

/// <summary>Generates the inputs, runs each measurement in a child process and prints one line per measurement.</summary>
internal static class Orchestrator
{
    private const double RssTargetMb = 300;
    private const double RatioTarget = 1.3;

    /// <summary>The request preparation cases: input format, template (null: read only), provider.</summary>
    private static readonly (string Input, string? Template, string? Provider)[] PrepareCases =
    [
        ("csv", null, null),
        ("jsonl", null, null),
        ("csv", "plain", "openai"),
        ("csv", "liquid", "openai"),
        ("csv", "plain", "anthropic"),
        ("jsonl", "plain", "openai"),
    ];

    public static async Task PrepareAsync(string work, int[] sizes)
    {
        var peaks = new Dictionary<string, List<(int Rows, double PeakMb)>>();
        foreach (var rows in sizes)
        {
            var inputs = new Dictionary<string, (string Path, long Bytes)>();
            foreach (var format in new[] { "csv", "jsonl" })
            {
                var path = Path.Combine(work, $"reviews-{rows}.{format}");
                var bytes = format == "csv" ? ReviewTable.WriteCsv(path, rows) : ReviewTable.WriteJsonl(path, rows);
                inputs[format] = (path, bytes);
            }

            foreach (var (input, template, provider) in PrepareCases)
            {
                var (path, bytes) = inputs[input];
                var outDir = Path.Combine(work, "requests");
                Directory.CreateDirectory(outDir);
                var name = template is null ? $"io-read input={input}" : $"io-prepare input={input} template={template} provider={provider}";
                var (result, peakMb) = template is null
                    ? await Child.StartAsync(["read", path])
                    : await Child.StartAsync(["prepare", path, template, provider!, outDir]);
                Directory.Delete(outDir, recursive: true);
                if (result.Rows != rows)
                {
                    throw new BenchFailedException($"{name}: {result.Rows} rows read of {rows}");
                }

                var output = template is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" out_mb={result.OutBytes / 1048576.0,7:0.0} files={result.Files,3}");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-58} rows={rows,9} input_mb={bytes / 1048576.0,6:0.0} wall_s={result.Seconds,6:0.00} cpu_s={result.CpuSeconds,6:0.00} mb_per_s={bytes / 1048576.0 / result.Seconds,6:0.0} rows_per_s={rows / result.Seconds,9:0}{output} peak_rss_mb={peakMb,4:0}"));
                (peaks.TryGetValue(name, out var list) ? list : peaks[name] = []).Add((rows, peakMb));
            }

            foreach (var (path, _) in inputs.Values)
            {
                File.Delete(path);
            }
        }

        PrintRatios(peaks);
    }

    public static async Task ExportAsync(string work, int[] sizes)
    {
        var peaks = new Dictionary<string, List<(int Rows, double PeakMb)>>();
        foreach (var rows in sizes)
        {
            var db = Path.Combine(work, $"store-{rows}.db");
            var fill = Stopwatch.StartNew();
            await ExportBench.FillAsync(db, rows);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"io-export-store rows={rows,9} fill_s={fill.Elapsed.TotalSeconds,6:0.0} store_mb={new FileInfo(db).Length / 1048576.0,6:0} (filled through the store API, not timed below)"));
            foreach (var (format, _) in ExportBench.Formats)
            {
                var output = Path.Combine(work, $"export-{rows}.{format}");
                var (result, peakMb) = await Child.StartAsync(["export", db, format, output]);
                File.Delete(output);
                if (result.Rows != rows)
                {
                    throw new BenchFailedException($"export {format}: {result.Rows} rows of {rows}");
                }

                var name = $"io-export format={format}";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-24} rows={rows,9} wall_s={result.Seconds,6:0.00} cpu_s={result.CpuSeconds,6:0.00} rows_per_s={rows / result.Seconds,9:0} out_mb={result.OutBytes / 1048576.0,6:0.0} mb_per_s={result.OutBytes / 1048576.0 / result.Seconds,6:0.0} peak_rss_mb={peakMb,4:0}"));
                (peaks.TryGetValue(name, out var list) ? list : peaks[name] = []).Add((rows, peakMb));
            }

            File.Delete(db);
        }

        PrintRatios(peaks);
    }

    private static void PrintRatios(Dictionary<string, List<(int Rows, double PeakMb)>> peaks)
    {
        foreach (var (name, list) in peaks)
        {
            var max = list.Max(x => x.PeakMb);
            var ratio = list.Count >= 2 ? string.Create(CultureInfo.InvariantCulture, $" peak_rss_ratio({list[^1].Rows}/{list[0].Rows})={list[^1].PeakMb / list[0].PeakMb:0.00}") : string.Empty;
            var verdict = max < RssTargetMb && (list.Count < 2 || list[^1].PeakMb / list[0].PeakMb <= RatioTarget) ? "met" : "NOT MET";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-58}{ratio} max_peak_rss_mb={max:0} (target < {RssTargetMb:0} MB, ratio <= {RatioTarget}: {verdict})"));
        }
    }
}

/// <summary>A measurement failed; the message says which and why.</summary>
internal sealed class BenchFailedException(string message) : Exception(message);
