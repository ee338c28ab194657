using System.Diagnostics;
using System.Globalization;
using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Storage;
using BatchPilot.Storage.Sqlite;
using BatchPilot.Web;

// Dashboard load benchmark: 10,000 jobs in a fresh SQLite store, the dashboard on 127.0.0.1 (no engine, no provider),
// 100 concurrent clients for a bounded time against the jobs page, its sorted pages, the jobs API and job details.
// Usage: BatchPilot.Web.Bench [seconds] [jobs]   (default: 30 10000). Target: p99 < 300 ms, 0 errors.
const int Clients = 100;
var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 30;
var jobCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000;
if (seconds <= 0 || jobCount <= 0)
{
    Console.Error.WriteLine("usage: BatchPilot.Web.Bench [seconds > 0] [jobs > 0]");
    return 2;
}

var work = Path.Combine(Path.GetTempPath(), "batchpilot-web-bench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(work);
try
{
    using var store = SqliteJobStore.Open(Path.Combine(work, "jobs.db"));
    var fill = Stopwatch.StartNew();
    var ids = await FillAsync(store, jobCount);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"web-dashboard fill jobs={jobCount} items={ids.Items} seconds={fill.Elapsed.TotalSeconds:0.0}"));

    await using var dashboard = await Dashboard.StartAsync(new DashboardOptions
    {
        Urls = "http://127.0.0.1:0",
        Store = store,
        ClientFactory = (_, _) => throw new InvalidOperationException("the web benchmark has no provider"),
        DataDirectory = Path.Combine(work, "data"),
        RunBackgroundEngine = false,
    });

    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Clients, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        BaseAddress = dashboard.BaseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

    // Wait for the first index load (the jobs API reports the total).
    var ready = Stopwatch.StartNew();
    while (!(await http.GetStringAsync(new Uri("/api/jobs?size=1", UriKind.Relative))).Contains(string.Create(CultureInfo.InvariantCulture, $"\"total\":{jobCount},"), StringComparison.Ordinal))
    {
        if (ready.Elapsed > TimeSpan.FromSeconds(120))
        {
            Console.Error.WriteLine("the dashboard did not list every job within 120 s");
            return 1;
        }

        await Task.Delay(100);
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"web-dashboard index_ready_s={ready.Elapsed.TotalSeconds:0.0} (after start)"));

    string[] sorts = ["name", "model", "status", "progress", "total", "cost", "created", "updated"];
    string[] groups = ["GET /", "GET /?page&sort", "GET /api/jobs?page", "GET /api/jobs/{id}"];
    var pages = (jobCount + 49) / 50;
    var samples = Enumerable.Range(0, Clients).Select(_ => groups.Select(_ => new List<double>()).ToArray()).ToArray();
    var errors = new long[Clients, groups.Length];
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    var gcPause0 = GC.GetTotalPauseDuration();
    int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
    var wall = Stopwatch.StartNew();
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
    var loops = Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
    {
        var random = new Random(c);
        while (!stop.IsCancellationRequested)
        {
            var g = random.Next(100) switch { < 30 => 0, < 55 => 1, < 80 => 2, _ => 3 };
            var url = g switch
            {
                0 => "/",
                1 => $"/?page={random.Next(1, pages + 1)}&sort={sorts[random.Next(sorts.Length)]}&dir={(random.Next(2) == 0 ? "asc" : "desc")}",
                2 => $"/api/jobs?page={random.Next(1, pages + 1)}",
                _ => $"/api/jobs/{ids.Ids[random.Next(ids.Ids.Count)]}",
            };
            var t = Stopwatch.GetTimestamp();
            try
            {
                using var response = await http.GetAsync(new Uri(url, UriKind.Relative), HttpCompletionOption.ResponseContentRead);
                if (!response.IsSuccessStatusCode)
                {
                    errors[c, g]++;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                errors[c, g]++;
            }

            samples[c][g].Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
    })).ToArray();
    await Task.WhenAll(loops);
    var elapsed = wall.Elapsed.TotalSeconds;
    var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
    var gcPause = (GC.GetTotalPauseDuration() - gcPause0).TotalMilliseconds;
    var gcs = $"{GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}";

    var totalErrors = 0L;
    var all = new List<double>();
    for (var g = 0; g < groups.Length; g++)
    {
        var lat = samples.SelectMany(s => s[g]).ToList();
        var err = Enumerable.Range(0, Clients).Sum(c => errors[c, g]);
        totalErrors += err;
        all.AddRange(lat);
        Print(groups[g], lat, err, elapsed);
    }

    Print("total", all, totalErrors, elapsed);

    // What the dashboard's background refresh of the job list costs on this store: the first (full) read, then the
    // cycles that follow (what changed lately, the job count, counts and batches of the jobs in progress).
    var index = new BatchPilot.Web.Data.JobIndex(store, TimeProvider.System);
    var first = Stopwatch.StartNew();
    await index.RefreshAsync(CancellationToken.None);
    var firstMs = first.Elapsed.TotalMilliseconds;
    var cycles = new List<double>();
    for (var k = 0; k < 10; k++)
    {
        var cycle = Stopwatch.StartNew();
        await index.RefreshAsync(CancellationToken.None);
        cycles.Add(cycle.Elapsed.TotalMilliseconds);
    }

    cycles.Sort();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"web-dashboard index refresh first_ms={firstMs:0} cycle_median_ms={cycles[cycles.Count / 2]:0.0} cycle_max_ms={cycles[^1]:0.0}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"web-dashboard clients={Clients} seconds={elapsed:0.0} process_cpu_cores={cpu / elapsed:0.0} gc_pause_ms={gcPause:0} gc_gen0/1/2={gcs} load_avg={File.ReadAllText("/proc/loadavg").Split(' ')[0]} (target p99 < 300 ms, 0 errors)"));
    return 0;
}
finally
{
    Directory.Delete(work, recursive: true);
}

static void Print(string group, List<double> latencies, long errors, double seconds)
{
    latencies.Sort();
    double P(double q) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"web-dashboard {group,-20} requests={latencies.Count,8} rps={latencies.Count / seconds,8:0} p50_ms={P(0.50),7:0.0} p99_ms={P(0.99),7:0.0} errors={errors}"));
}

// Jobs as the CLI leaves them: most completed with a few items each, some with failures, some pending, a few running.
static async Task<(List<string> Ids, long Items)> FillAsync(IJobStore store, int count)
{
    string[] models = ["gpt-4o-mini", "gpt-4.1-mini", "claude-haiku-4-5", "gpt-4o"];
    var random = new Random(7);
    var now = DateTimeOffset.UtcNow;
    var ids = new List<string>(count);
    long items = 0;
    for (var i = 0; i < count; i++)
    {
        var model = models[i % models.Length];
        var provider = model.StartsWith("claude", StringComparison.Ordinal) ? ProviderNames.Anthropic : ProviderNames.OpenAI;
        var spec = new JobSpec { InputPath = $"in-{i}.csv", InputSha256 = "h" + i, Provider = provider, Model = model, Prompt = "Classify: {{text}}", Endpoint = "emulator" };
        var created = now.AddMinutes(-random.Next(30 * 24 * 60));
        var id = string.Create(CultureInfo.InvariantCulture, $"job-{i:D6}-{random.Next(0x10000):x4}");
        var job = new JobRecord { Id = id, Name = $"reviews-{i % 97}-{i}", Spec = spec, Fingerprint = spec.Fingerprint() + id, Status = JobStatus.Preparing, Columns = ["text"], CreatedAt = created, UpdatedAt = created };
        await store.CreateJobAsync(job);
        var n = random.Next(1, 6);
        await store.AppendItemsAsync(id, Enumerable.Range(1, n).Select(s => new NewItem(s, $"row-{s}", s + 1, [$"review text {i}/{s}"])).ToList());
        items += n;
        await store.TrySetJobStatusAsync(id, [JobStatus.Preparing], JobStatus.Pending, "All rows read.", n);
        ids.Add(id);
        var kind = i % 100;
        if (kind < 4)
        {
            continue; // pending
        }

        var batch = await store.CreatePlannedBatchAsync(id, Enumerable.Range(1, n).Select(s => (long)s).ToList(), 100 * n, "tok-" + id);
        await store.TrySetJobStatusAsync(id, [JobStatus.Pending], JobStatus.Running, "Batches planned.");
        if (kind < 5)
        {
            await store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Submitted, new BatchUpdate { ProviderBatchId = "pb-" + id, SubmittedAt = now }, "Submitted.");
            continue; // running at the provider
        }

        var failOne = kind < 15;
        var lines = Enumerable.Range(1, n).Select(s => failOne && s == 1
            ? new ResultLine { CustomId = $"row-{s}", Kind = ResultKind.Failed, ErrorCode = "invalid_request", ErrorMessage = "bad request" }
            : new ResultLine { CustomId = $"row-{s}", Kind = ResultKind.Succeeded, Text = "positive", Usage = new TokenUsage(120, 3, 0) }).ToList();
        await store.ApplyResultsAsync(batch.Id, lines);
        await store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Collected, new BatchUpdate { CollectedAt = now }, "Collected.");
        await store.TrySetJobStatusAsync(id, [JobStatus.Running], failOne ? JobStatus.CompletedWithErrors : JobStatus.Completed, "Every item ended.");
    }

    return (ids, items);
}
