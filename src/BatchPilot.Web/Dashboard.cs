using System.Net;
using System.Security.Cryptography;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage;
using BatchPilot.Web.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BatchPilot.Web;

/// <summary>Settings of the dashboard (<c>batchpilot serve</c>).</summary>
public sealed class DashboardOptions
{
    /// <summary>Where to listen, e.g. <c>http://127.0.0.1:5080</c> (several separated by <c>;</c>; port 0 picks a free one).</summary>
    public string Urls { get; init; } = "http://127.0.0.1:5080";

    /// <summary>
    /// The access token. Required on every request when set. When null and <see cref="Urls"/> binds to anything but
    /// loopback, one is generated (see <see cref="DashboardHost.Token"/>, to print once).
    /// </summary>
    public string? Token { get; init; }

    /// <summary>The job store (shared with the caller, who disposes it). Must be safe to use from several threads.</summary>
    public required IJobStore Store { get; init; }

    /// <summary>Creates a batch client for a job (keys, endpoints and the embedded emulator are the caller's business).</summary>
    public required Func<JobSpec, CancellationToken, Task<IBatchClient>> ClientFactory { get; init; }

    /// <summary>
    /// Creates a synchronous-API client for a job in sync mode (keys and endpoints are the caller's business). When null, the
    /// New job page offers the Batch API only and sync-mode jobs are left to the process that runs them.
    /// </summary>
    public Func<JobSpec, CancellationToken, Task<ISyncClient>>? SyncClientFactory { get; init; }

    /// <summary>
    /// The rate limiter of a sync-mode run: requests and tokens per minute given on the New job page (null when not given:
    /// the caller's configuration, else learned from the provider's headers). Default: a limiter that learns them.
    /// </summary>
    public Func<JobSpec, long?, long?, SyncLimiter>? SyncLimiterFor { get; init; }

    /// <summary>
    /// The endpoint written into new jobs for a provider (a base URL, or <c>emulator</c>); it throws an
    /// <see cref="Errors.InputException"/> when the provider's endpoint is not configured (Azure has no default). Default:
    /// the public APIs.
    /// </summary>
    public Func<string, string> EndpointFor { get; init; } = provider => provider switch
    {
        ProviderNames.Anthropic => BatchClients.AnthropicDefaultBaseUrl.ToString().TrimEnd('/'),
        ProviderNames.OpenRouter => SyncClients.OpenRouterDefaultBaseUrl.ToString(),
        ProviderNames.Azure => throw new Errors.InputException("no Azure OpenAI endpoint is configured", field: "provider", hint: "set AZURE_OPENAI_ENDPOINT, or base_urls.azure in config/user.yaml"),
        _ => BatchClients.OpenAIDefaultBaseUrl.ToString(),
    };

    /// <summary>
    /// Prices (with the configuration's overrides), the daily budget (<c>budget.daily_usd</c>) and the response cache mode:
    /// what the CLI's engines use, so the dashboard prices, budgets and caches the same way. Default: the built-in prices,
    /// no daily budget, the cache on.
    /// </summary>
    public CostOptions Costs { get; init; } = new();

    /// <summary>
    /// The engine settings of a job (the CLI's: its <see cref="Costs"/>, the enqueued-token limit of the model, the waits
    /// after refusals). Default: the engine's defaults with <see cref="Costs"/>.
    /// </summary>
    public Func<JobSpec, EngineOptions>? EngineOptionsFor { get; init; }

    /// <summary>
    /// The settings of a job's synchronous runs (the CLI's: retries, <see cref="Costs"/>, the output tokens the limiter
    /// assumes). Default: the runner's defaults with <see cref="Costs"/>.
    /// </summary>
    public Func<JobSpec, SyncOptions>? SyncOptionsFor { get; init; }

    /// <summary>The app's data folder: uploads go to <c>uploads/</c> under it, exports are staged in <c>exports/</c>.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>A folder whose CSV/JSONL files the New job page may pick (none when null).</summary>
    public string? AllowedInputFolder { get; init; }

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Largest accepted upload, in bytes.</summary>
    public long MaxUploadBytes { get; init; } = 100L * 1024 * 1024;

    /// <summary>How often the background engine polls jobs with batches at the provider.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the job list is re-read from the store (jobs started by other processes appear then).</summary>
    public TimeSpan IndexInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the pages refresh themselves while open, in milliseconds.</summary>
    public int LiveRefreshMilliseconds { get; init; } = 1500;

    /// <summary>Runs the background engine (polling, collecting). Off only in tests that drive every step by hand.</summary>
    public bool RunBackgroundEngine { get; init; } = true;

    /// <summary>Model ids suggested on the New job page.</summary>
    public IReadOnlyList<string> SuggestedModels { get; init; } = ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "claude-haiku-4-5", "claude-sonnet-4-5"];

    /// <summary>Receives the dashboard's logs (none when null). API keys are never logged.</summary>
    public ILoggerProvider? LoggerProvider { get; init; }
}

/// <summary>A running dashboard.</summary>
public sealed class DashboardHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _disposed;

    internal DashboardHost(WebApplication app, Uri baseAddress, string? token)
    {
        _app = app;
        BaseAddress = baseAddress;
        Token = token;
    }

    /// <summary>The address to open (with the port actually bound).</summary>
    public Uri BaseAddress { get; }

    /// <summary>The access token in force (given or generated), or null when none is required.</summary>
    public string? Token { get; }

    /// <summary>The server's services (tests read the route table from them).</summary>
    internal IServiceProvider Services => _app.Services;

    /// <summary>
    /// Completes when the dashboard starts stopping (disposed, or the host told to stop) or when
    /// <paramref name="cancellationToken"/> is cancelled (Ctrl+C in <c>batchpilot serve</c>); it does not throw on cancellation.
    /// </summary>
    public async Task WaitForShutdownAsync(CancellationToken cancellationToken = default)
    {
        var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = lifetime.ApplicationStopping.Register(() => done.TrySetResult());
        using var cancelled = cancellationToken.Register(() => done.TrySetResult());
        await done.Task;
    }

    /// <summary>Stops the server and the background engine.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await _app.StopAsync(cts.Token);
        }

        await _app.DisposeAsync();
    }
}

/// <summary>Starts the dashboard.</summary>
public static class Dashboard
{
    /// <summary>Starts the web server and the background engine; returns once it listens.</summary>
    /// <exception cref="ArgumentException">An option is missing or unusable.</exception>
    public static async Task<DashboardHost> StartAsync(DashboardOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Store);
        ArgumentNullException.ThrowIfNull(options.ClientFactory);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Urls);
        if (options.MaxUploadBytes < 1)
        {
            throw new ArgumentException("MaxUploadBytes must be positive", nameof(options));
        }

        var loopback = Binding.IsLoopbackOnly(options.Urls);
        var token = string.IsNullOrWhiteSpace(options.Token)
            ? (loopback ? null : Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_'))
            : options.Token.Trim();
        Directory.CreateDirectory(options.DataDirectory);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(Dashboard).Assembly.GetName().Name,
            ContentRootPath = Path.GetFullPath(options.DataDirectory),
            Args = [],
        });
        builder.WebHost.UseUrls(options.Urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxUploadBytes + (1024 * 1024);
        });
        builder.Logging.ClearProviders();
        if (options.LoggerProvider is not null)
        {
            builder.Logging.AddProvider(options.LoggerProvider);
        }

        builder.Services.Configure<FormOptions>(f =>
        {
            f.MultipartBodyLengthLimit = options.MaxUploadBytes + (64 * 1024);
            f.ValueLengthLimit = 1024 * 1024;
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(5));
        var state = new DashboardState(options, token, loopback);
        builder.Services.AddSingleton(state);
        builder.Services.AddHostedService<DashboardWorker>();
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.TypeInfoResolverChain.Insert(0, Api.WebJson.Default));

        var app = builder.Build();
        state.Logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("BatchPilot.Web");
        app.UseMiddleware<AccessGuard>();
        Routes.Map(app);
        await state.Index.RefreshAsync(ct);
        await app.StartAsync(ct);

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var first = addresses.FirstOrDefault() ?? options.Urls.Split(';')[0];
        var baseAddress = Binding.Reachable(new Uri(first));
        Log.Started(state.Logger, baseAddress, token is not null);
        return new DashboardHost(app, baseAddress, token);
    }
}

/// <summary>Binding helpers.</summary>
internal static class Binding
{
    public static bool IsLoopbackOnly(string urls) =>
        urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).All(IsLoopback);

    private static bool IsLoopback(string url)
    {
        var host = Host(url);
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }

    private static string Host(string url)
    {
        var s = url;
        var scheme = s.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            s = s[(scheme + 3)..];
        }

        var slash = s.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            s = s[..slash];
        }

        if (s.StartsWith('['))
        {
            var end = s.IndexOf(']', StringComparison.Ordinal);
            return end > 0 ? s[..(end + 1)] : s;
        }

        var colon = s.LastIndexOf(':');
        return colon >= 0 ? s[..colon] : s;
    }

    /// <summary>An address a local browser can open: a wildcard bind is reached through 127.0.0.1.</summary>
    public static Uri Reachable(Uri bound)
    {
        var host = bound.Host;
        if (host is "0.0.0.0" or "[::]" or "::" or "+" or "*")
        {
            return new UriBuilder(bound) { Host = "127.0.0.1" }.Uri;
        }

        return bound;
    }
}
