using System.Diagnostics;
using System.Globalization;
using BatchPilot.IO.Bench;

// Input and output throughput: request preparation (table → prompt → provider request files) and exports of a finished
// job (csv, jsonl, md, docx, xlsx), each measurement in a fresh child process of this program, which reports its own
// peak RSS (VmHWM) so that one measurement's peak does not hide another's.
// Usage: BatchPilot.IO.Bench [rows...]            (default rows: 100000 1000000; the ratios compare the last to the first)
//        BENCH_IO_PARTS=prepare|export            runs one of the two parts (default: both)
// The children: BatchPilot.IO.Bench --child read <input> | prepare <input> <plain|liquid> <openai|anthropic> <outdir>
//                                           | export <store.db> <format> <output>
//                                           | fill <store.db> <rows>   (a store to profile an export with)
if (args is ["--child", .. var child])
{
    return await Child.RunAsync(child);
}

int[] sizes;
try
{
    sizes = args.Length > 0 ? [.. args.Select(a => int.Parse(a, CultureInfo.InvariantCulture))] : [100_000, 1_000_000];
}
catch (FormatException)
{
    Console.Error.WriteLine("usage: BatchPilot.IO.Bench [rows...]");
    return 2;
}

var parts = Environment.GetEnvironmentVariable("BENCH_IO_PARTS") is { Length: > 0 } p ? p : "prepare,export";
var work = Path.Combine(Path.GetTempPath(), "batchpilot-io-bench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(work);
try
{
    if (parts.Contains("prepare", StringComparison.Ordinal))
    {
        await Orchestrator.PrepareAsync(work, sizes);
    }

    if (parts.Contains("export", StringComparison.Ordinal))
    {
        await Orchestrator.ExportAsync(work, sizes);
    }

    return 0;
}
catch (BenchFailedException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 1;
}
finally
{
    Directory.Delete(work, recursive: true);
}
