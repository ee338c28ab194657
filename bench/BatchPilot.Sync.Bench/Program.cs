using System.Diagnostics;
using System.Globalization;
using BatchPilot.Emulator;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage.Sqlite;

// Sync-mode benchmark: jobs through the real SyncRunner, SyncLimiter, OpenAI sync client and SQLite store against the
// emulator started in this process (so client and server share the machine's cores).
//   sync-throughput: the emulator with zero latency and no limits; requests per second end to end (target >= 5,000).
//   sync-limited:    the emulator limiting to 3,000 RPM / 300,000 TPM (enforced per second at limit/60), limits learned
//                    from its headers, run for a fixed time: achieved rate as a fraction of each limit (target >= 0.95)
//                    and the 429s received (target <= 1 % of requests).
// Usage: BatchPilot.Sync.Bench [throughput_items] [limited_seconds] [concurrency]   (default: 50000 60 16, the CLI's default concurrency)
// BENCH_SYNC_EMULATOR_URL=http://127.0.0.1:8089 runs the throughput part against a standalone 'batchpilot emulator' instead.
var items = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
var limitedSeconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 60;
var concurrency = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16;
if (items < 1 || limitedSeconds < 0 || concurrency < 1)
{
    Console.Error.WriteLine("usage: BatchPilot.Sync.Bench [throughput_items >= 1] [limited_seconds >= 0] [concurrency >= 1]");
    return 2;
}

var work = Path.Combine(Path.GetTempPath(), "batchpilot-sync-bench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(work);
try
{
    // (a) Throughput: zero latency, no limits. A short warm-up job first, so that JIT and connection set-up are not timed.
    var external = Environment.GetEnvironmentVariable("BENCH_SYNC_EMULATOR_URL") is { Length: > 0 } url ? new Uri(url.TrimEnd('/') + "/") : null;
    await using (var emu = external is null ? await EmulatorServer.StartAsync(new EmulatorOptions()) : null)
    {
        var root = external ?? emu!.BaseAddress;
        await RunAsync(root, Path.Combine(work, "warmup.db"), 2_000, concurrency, new SyncLimiter(TimeProvider.System), maxTokens: null, deadline: null);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var (report, seconds) = await RunAsync(root, Path.Combine(work, "throughput.db"), items, concurrency, new SyncLimiter(TimeProvider.System), maxTokens: null, deadline: null);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        if (report.Succeeded != items)
        {
            Console.Error.WriteLine($"only {report.Succeeded} of {items} requests succeeded");
            return 1;
        }

        var perRequest = cpu.TotalMicroseconds / items;
        var cpuText = external is null
            ? string.Create(CultureInfo.InvariantCulture, $"cpu_us_per_request={perRequest:0} (client, server and store together; {Environment.ProcessorCount} cores: at most {Environment.ProcessorCount * 1e6 / perRequest:0} requests/s on an idle machine)")
            : string.Create(CultureInfo.InvariantCulture, $"emulator={external} client_and_store_cpu_us_per_request={perRequest:0}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sync-throughput items={items} concurrency={concurrency} wall_s={seconds:0.00} requests_per_s={items / seconds:0} attempts={report.Attempts} {cpuText}"));
    }

    // (b) At the rate limit: 3,000 RPM and 300,000 TPM. Each request counts about 100 tokens (input plus max_tokens, as the
    // emulator and OpenAI count them), so both limits are nearly binding. The job has more items than fit the time.
    if (limitedSeconds > 0)
    {
        const int Rpm = 3_000, Tpm = 300_000, MaxTokens = 70;
        await using var emu = await EmulatorServer.StartAsync(new EmulatorOptions { RequestsPerMinute = Rpm, TokensPerMinute = Tpm });
        var limiter = new SyncLimiter(TimeProvider.System);
        var capacity = (int)(Rpm / 60.0 * limitedSeconds * 1.5) + 100;
        var deadline = TimeSpan.FromSeconds(limitedSeconds);
        var (counting, seconds) = await RunAsync(emu.BaseAddress, Path.Combine(work, "limited.db"), capacity, 16, limiter, MaxTokens, deadline);
        var minutes = deadline.TotalMinutes;
        var ok = counting.Succeeded;
        var rpmFraction = ok / minutes / Rpm;
        var tpmFraction = counting.Tokens / minutes / Tpm;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sync-limited rpm={Rpm} tpm={Tpm} seconds={limitedSeconds:0} concurrency=16 answered={ok} tokens_per_request={(double)counting.Tokens / Math.Max(1, ok):0.0} "
            + $"achieved_rpm={ok / minutes:0} ({rpmFraction:0.000} of the limit) achieved_tpm={counting.Tokens / minutes:0} ({tpmFraction:0.000} of the limit) "
            + $"http_429={counting.Throttled} ({100.0 * counting.Throttled / Math.Max(1, counting.Attempts):0.00} % of {counting.Attempts} requests) learned_rpm={limiter.RequestsPerMinute} learned_tpm={limiter.TokensPerMinute}"));
    }

    return 0;
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    try
    {
        Directory.Delete(work, recursive: true);
    }
    catch (IOException)
    {
    }
}

// Creates a sync job of n items in a fresh store and runs it (until the deadline, if any); returns what the client saw.
static async Task<(Counts Counts, double Seconds)> RunAsync(Uri emulator, string db, int n, int concurrency, SyncLimiter limiter, int? maxTokens, TimeSpan? deadline)
{
    var baseUrl = new Uri(emulator, "v1");
    using var store = SqliteJobStore.Open(db);
    var spec = new JobSpec
    {
        InputPath = "bench.csv",
        InputSha256 = "bench-" + n.ToString(CultureInfo.InvariantCulture),
        Provider = ProviderNames.OpenAI,
        Model = "gpt-4o-mini",
        Prompt = "Classify the sentiment of this short product review and answer with one word: {{text}}",
        MaxTokens = maxTokens,
        Endpoint = baseUrl.ToString(),
        Mode = JobMode.Sync,
    };
    var options = new BatchClientOptions { Provider = ProviderNames.OpenAI, BaseUrl = baseUrl, ApiKey = "sk-bench-000000000000000000000000", SpoolDirectory = Path.GetDirectoryName(db)! };
    using var sizer = BatchClients.Create(options);
    var created = await CreateJob.RunAsync(store, new CreateJobRequest
    {
        Spec = spec,
        Name = "bench",
        Columns = ["text"],
        Rows = _ => Enumerable.Range(1, n).Select(i => new SourceRow(i, i + 1, ["review " + i.ToString(CultureInfo.InvariantCulture)])),
    }, sizer, TimeProvider.System);
    using var client = new CountingClient(SyncClients.Create(options));
    var runner = new SyncRunner(store, client, limiter, TimeProvider.System, options: new SyncOptions { Concurrency = concurrency });
    using var stop = deadline is { } d ? new CancellationTokenSource(d) : new CancellationTokenSource();
    var watch = Stopwatch.StartNew();
    try
    {
        await runner.RunAsync(created.Job, stop.Token);
    }
    catch (OperationCanceledException) when (stop.IsCancellationRequested)
    {
    }

    return (client.Snapshot(), watch.Elapsed.TotalSeconds);
}

/// <summary>What the client saw: answers, tokens counted against the limits (as the server counts them), attempts, 429s.</summary>
internal sealed record Counts(long Succeeded, long Tokens, long Attempts, long Throttled);

/// <summary>Counts every attempt of the real client.</summary>
internal sealed class CountingClient(ISyncClient inner) : ISyncClient
{
    private long _succeeded;
    private long _tokens;
    private long _attempts;
    private long _throttled;

    public string Provider => inner.Provider;

    public async Task<SyncResponse> SendAsync(IdentifiedRequest request, CancellationToken cancellationToken = default)
    {
        var response = await inner.SendAsync(request, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _attempts);
        if (response.Result.StatusCode == 429)
        {
            Interlocked.Increment(ref _throttled);
        }
        else if (response.Result.Kind == ResultKind.Succeeded)
        {
            Interlocked.Increment(ref _succeeded);
            Interlocked.Add(ref _tokens, SyncAttempts.EstimateInputTokens(request.Request) + (request.Request.MaxTokens ?? response.Result.Usage?.OutputTokens ?? 0));
        }

        return response;
    }

    public Counts Snapshot() => new(Interlocked.Read(ref _succeeded), Interlocked.Read(ref _tokens), Interlocked.Read(ref _attempts), Interlocked.Read(ref _throttled));

    public void Dispose() => inner.Dispose();
}
