using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Providers;
using BatchPilot.Storage.Sqlite;
using BatchPilot.Testing;
using Microsoft.Extensions.Logging;

namespace BatchPilot.Web.Tests;

/// <summary>A dashboard on 127.0.0.1 for one test, with its own store, data folder and emulator.</summary>
public sealed class WebHost : IAsyncDisposable
{
    /// <summary>The fake key every client uses: no page, response or log may contain it.</summary>
    public const string ApiKey = "sk-proj-SECRETkey0000000000000000000000wxyz";

    private WebHost(TempWorkspace ws, EmulatorHost emulator, SqliteJobStore store, DashboardHost dashboard, LogCollector logs)
    {
        Workspace = ws;
        Emulator = emulator;
        Store = store;
        Dashboard = dashboard;
        Logs = logs;
        var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true };
        Http = new HttpClient(handler) { BaseAddress = dashboard.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public TempWorkspace Workspace { get; }

    public EmulatorHost Emulator { get; }

    public SqliteJobStore Store { get; }

    public DashboardHost Dashboard { get; }

    public LogCollector Logs { get; }

    public HttpClient Http { get; }

    public static async Task<WebHost> StartAsync(double batchSeconds = 0.5, FaultScenario? faults = null, string urls = "http://127.0.0.1:0", string? token = null, long maxUpload = 10 * 1024 * 1024, Running.CostOptions? costs = null)
    {
        var ws = new TempWorkspace();
        var emulator = await EmulatorHost.StartAsync(batchSeconds, faults);
        var store = SqliteJobStore.Open(ws.PathOf("jobs.db"));
        var logs = new LogCollector();
        Directory.CreateDirectory(ws.PathOf("inputs"));
        var dashboard = await BatchPilot.Web.Dashboard.StartAsync(new DashboardOptions
        {
            Urls = urls,
            Token = token,
            Store = store,
            ClientFactory = (spec, _) => Task.FromResult(BatchClients.Create(new BatchClientOptions
            {
                Api = spec.Api,
                BatchEndpoint = spec.RawUrl,
                Provider = spec.Provider,
                BaseUrl = new Uri(spec.Endpoint),
                ApiKey = ApiKey,
                SpoolDirectory = ws.PathOf("spool"),
            })),
            SyncClientFactory = (spec, _) => Task.FromResult(SyncClients.Create(new BatchClientOptions
            {
                Api = spec.Api,
                Provider = spec.Provider,
                BaseUrl = new Uri(spec.Endpoint),
                ApiKey = ApiKey,
                SpoolDirectory = ws.PathOf("spool"),
            })),
            EndpointFor = p => p == ProviderNames.Anthropic ? emulator.AnthropicBaseUrl : emulator.OpenAIBaseUrl,
            DataDirectory = ws.PathOf("data"),
            AllowedInputFolder = ws.PathOf("inputs"),
            MaxUploadBytes = maxUpload,
            PollInterval = TimeSpan.FromMilliseconds(300),
            IndexInterval = TimeSpan.FromMilliseconds(200),
            LiveRefreshMilliseconds = 400,
            LoggerProvider = logs,
            Costs = costs ?? new Running.CostOptions(),
        });
        return new WebHost(ws, emulator, store, dashboard, logs);
    }

    /// <summary>The anti-forgery token of the dashboard.</summary>
    public async Task<string> CsrfAsync()
    {
        using var doc = JsonDocument.Parse(await Http.GetStringAsync(new Uri("/api/csrf", UriKind.Relative)));
        return doc.RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>Uploads a CSV through the API; returns its reference.</summary>
    public async Task<string> UploadAsync(string name, string csv)
    {
        using var content = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        content.Add(file, "file", name);
        using var req = new HttpRequestMessage(HttpMethod.Post, "/api/uploads") { Content = content };
        req.Headers.Add("X-CSRF-Token", await CsrfAsync());
        using var resp = await Http.SendAsync(req);
        var body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.IsSuccessStatusCode, body);
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("input").GetString()!;
    }

    public async Task<HttpResponseMessage> PostJsonAsync(string path, string json, bool csrf = true, HttpMethod? method = null)
    {
        using var req = new HttpRequestMessage(method ?? HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (csrf)
        {
            req.Headers.Add("X-CSRF-Token", await CsrfAsync());
        }

        return await Http.SendAsync(req);
    }

    /// <summary>Creates a job over the API from a reviews CSV and returns its id.</summary>
    public async Task<string> CreateJobAsync(int rows, string name = "reviews", string model = "gpt-4o-mini", string mode = "batch")
    {
        var input = await UploadAsync(name + ".csv", ReviewsCsv(rows));
        using var resp = await PostJsonAsync("/api/jobs", $$$"""{"input":"{{{input}}}","name":"{{{name}}}","model":"{{{model}}}","mode":"{{{mode}}}","prompt":"Classify {{product}}: {{review_text}}","max_tokens":50}""");
        var body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == System.Net.HttpStatusCode.Created, body);
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("id").GetString()!;
    }

    public async Task<JsonDocument> JobAsync(string id) => JsonDocument.Parse(await Http.GetStringAsync(new Uri("/api/jobs/" + id, UriKind.Relative)));

    /// <summary>Waits until the job reaches one of the statuses (the background engine moves it).</summary>
    public async Task<string> WaitForStatusAsync(string id, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        string status;
        do
        {
            using var doc = await JobAsync(id);
            status = doc.RootElement.GetProperty("job").GetProperty("status").GetString()!;
            if (statuses.Contains(status) && doc.RootElement.GetProperty("job").GetProperty("active_batches").GetInt32() == 0)
            {
                return status;
            }

            await Task.Delay(200);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"job {id} is still {status}, expected {string.Join(" or ", statuses)}");
        return status;
    }

    public static string ReviewsCsv(int rows)
    {
        var sb = new StringBuilder("id,product,review_text\n");
        for (var i = 1; i <= rows; i++)
        {
            sb.Append($"r{i},Product {i % 7},\"Review number {i}, with a comma\"\n");
        }

        return sb.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Dashboard.DisposeAsync();
        Store.Dispose();
        await Emulator.DisposeAsync();
        Workspace.Dispose();
    }
}

/// <summary>Collects every log line of the dashboard (to prove no key is logged).</summary>
public sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
        }
    }
}
