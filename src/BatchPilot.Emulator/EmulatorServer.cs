using System.Net;
using System.Text.Json;
using BatchPilot.Emulator.Anthropic;
using BatchPilot.Emulator.Infrastructure;
using BatchPilot.Emulator.OpenAI;
using BatchPilot.Emulator.RateLimiting;
using BatchPilot.Emulator.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace BatchPilot.Emulator;

/// <summary>
/// A running emulator: a Kestrel server on loopback speaking the OpenAI (<c>{BaseAddress}v1</c>) and
/// Anthropic (<c>{BaseAddress}</c>) wire formats. Start with <see cref="StartAsync"/>, stop with
/// <see cref="DisposeAsync"/>. All members are thread-safe.
/// </summary>
public sealed class EmulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly EmulatorContext _ctx;
    private readonly OpenAIBatchEngine _openai;
    private readonly AnthropicBatchEngine _anthropic;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _sweeper = Task.CompletedTask;
    private int _disposed;

    private EmulatorServer(WebApplication app, EmulatorContext ctx, OpenAIBatchEngine openai, AnthropicBatchEngine anthropic)
    {
        _app = app;
        _ctx = ctx;
        _openai = openai;
        _anthropic = anthropic;
    }

    /// <summary>The root address, e.g. <c>http://127.0.0.1:41234/</c>. OpenAI base: <c>BaseAddress + "v1"</c>; Anthropic base: <c>BaseAddress</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The faults injected from now on. Item and batch faults are captured when a batch is created.</summary>
    public FaultScenario Faults
    {
        get => _ctx.Faults;
        set => _ctx.Faults = value;
    }

    /// <summary>Number of calls per endpoint.</summary>
    public EmulatorCounters Counters => _ctx.Counters;

    /// <summary>The data directory in use (a temporary one when <see cref="EmulatorOptions.DataDirectory"/> is null).</summary>
    public string DataDirectory => _ctx.Store.Root;

    /// <summary>Starts a server.</summary>
    /// <exception cref="ArgumentException">An address in <see cref="EmulatorOptions.Urls"/> is not loopback and <see cref="EmulatorOptions.AllowNonLoopback"/> is false, or is not a valid http URL.</exception>
    public static async Task<EmulatorServer> StartAsync(EmulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var urls = CheckUrls(options);
        if (options.BatchDuration < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchDuration, "BatchDuration must not be negative.");
        }

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // Per-endpoint limits are raised further where needed (files 512 MB, Anthropic batches 256 MB).
            k.Limits.MaxRequestBodySize = 64L * 1024 * 1024;
        });
        builder.WebHost.UseUrls(urls);
        builder.Services.AddRoutingCore();

        var store = new EmulatorStore(options.DataDirectory);
        var ctx = new EmulatorContext(options, store, new EmulatorCounters());
        var app = builder.Build();
        var openai = new OpenAIBatchEngine(ctx);
        var anthropic = new AnthropicBatchEngine(ctx);
        var server = new EmulatorServer(app, ctx, openai, anthropic);

        app.UseRouting();
        app.Use(server.PipelineAsync);
        server.MapAdmin(app);
        new OpenAIFilesApi(ctx).Map(app);
        new OpenAIBatchesApi(ctx, openai).Map(app);
        new AnthropicBatchesApi(ctx, anthropic).Map(app);
        new SyncApi(ctx).Map(app);

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            store.Dispose();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        server._sweeper = server.SweepAsync();
        return server;
    }

    private static string CheckUrls(EmulatorOptions options)
    {
        var result = new List<string>();
        foreach (var raw in options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // "localhost:0" cannot pick a dynamic port in Kestrel; use the IPv4 loopback instead.
            var url = raw.Replace("://localhost:0", "://127.0.0.1:0", StringComparison.OrdinalIgnoreCase);
            var host = url.Contains("://", StringComparison.Ordinal) ? url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..] : url;
            host = host.Split('/')[0];
            host = host.StartsWith('[') ? host[..(host.IndexOf(']', StringComparison.Ordinal) + 1)] : host.Split(':')[0];
            var loopback = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
                (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
            if (!loopback && !options.AllowNonLoopback)
            {
                throw new ArgumentException($"The emulator binds loopback addresses only; '{raw}' is not one. Set AllowNonLoopback to bind it anyway.", nameof(options));
            }
            if (!url.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"The emulator serves plain http only; '{raw}' is not an http:// URL.", nameof(options));
            }
            result.Add(url);
        }
        if (result.Count == 0)
        {
            throw new ArgumentException("EmulatorOptions.Urls holds no address.", nameof(options));
        }
        return string.Join(';', result);
    }

    /// <summary>Every batch ever created, both providers, oldest first, with its status now.</summary>
    public IReadOnlyList<EmulatedBatch> ListBatches()
    {
        var now = _ctx.NowMs;
        var store = _ctx.Store;
        var list = new List<(long Seq, EmulatedBatch Batch)>();
        foreach (var b in store.OpenAIBatches.Values)
        {
            list.Add((b.Seq, new EmulatedBatch(Wire.OpenAI, b.Id, DateTimeOffset.FromUnixTimeMilliseconds(b.CreatedAtMs), b.Total, b.Metadata, _openai.View(b, now).Status, new FileLines(store.CustomIdsPath(b.Id)))));
        }
        foreach (var b in store.AnthropicBatches.Values)
        {
            list.Add((b.Seq, new EmulatedBatch(Wire.Anthropic, b.Id, DateTimeOffset.FromUnixTimeMilliseconds(b.CreatedAtMs), b.Total, null, _anthropic.View(b, now).Status, new FileLines(store.CustomIdsPath(b.Id)))));
        }
        return [.. list.OrderBy(x => x.Seq).Select(x => x.Batch)];
    }

    /// <summary>Completes when the server is disposed; throws <see cref="OperationCanceledException"/> when the token is cancelled first.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _stopped.Task.WaitAsync(cancellationToken);

    /// <summary>Stops the server; deletes the data directory when it was a temporary one.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
            try
            {
                await _sweeper.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
                // A long output generation is still running; the store deletion below tolerates it.
            }
            _ctx.Store.Dispose();
            _stopping.Dispose();
            _stopped.TrySetResult();
        }
    }

    /// <summary>Generates due output files in the background, so that polling clients rarely wait for it.</summary>
    private async Task SweepAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100), _ctx.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                foreach (var b in _ctx.Store.OpenAIBatches.Values)
                {
                    if (!b.Generated && !_stopping.IsCancellationRequested)
                    {
                        _openai.Refresh(b);
                    }
                }
                foreach (var b in _ctx.Store.AnthropicBatches.Values)
                {
                    if (!b.Generated && !b.Deleted && !_stopping.IsCancellationRequested)
                    {
                        _anthropic.Refresh(b);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
            // The data directory went away under us (dispose); nothing left to sweep.
        }
    }

    /// <summary>Counters, provider headers, HTTP faults, authentication, and a provider-shaped 500 for bugs.</summary>
    private async Task PipelineAsync(HttpContext http, RequestDelegate next)
    {
        var request = http.Request;
        var path = request.Path.Value ?? "/";
        var template = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        _ctx.Counters.Increment($"{request.Method} {(template is null ? path : "/" + template.TrimStart('/'))}");
        if (path.StartsWith("/_emulator/", StringComparison.Ordinal))
        {
            await next(http);
            return;
        }
        var provider = Wire.ProviderOf(request);
        if (provider == Wire.Anthropic)
        {
            http.Response.Headers["request-id"] = Ids.NewAnthropicRequestId();
            http.Response.Headers["anthropic-organization-id"] = "00000000-0000-4000-8000-00000000e1a7";
        }
        else
        {
            http.Response.Headers["x-request-id"] = Ids.NewOpenAIRequestId();
            http.Response.Headers["openai-version"] = "2020-10-01";
            http.Response.Headers["openai-organization"] = "org-emulator";
            http.Response.Headers["openai-processing-ms"] = "1";
        }

        if (_ctx.Faults.NextHttpFault(request.Method, path, provider) is { } fault)
        {
            if (fault.DelayMs > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(fault.DelayMs), _ctx.Time, http.RequestAborted);
            }
            if (fault.Reset && fault.MidBody && SyncApi.Answers(request.Method, path))
            {
                http.Items[SyncApi.MidBodyResetKey] = true;
            }
            else if (fault.Reset)
            {
                http.Abort();
                return;
            }
            if (fault.Status != 0)
            {
                await WriteHttpFaultAsync(http, provider, fault);
                return;
            }
        }

        if (!await AuthenticateAsync(http, provider))
        {
            return;
        }
        if (http.GetEndpoint() is null)
        {
            await Wire.ErrorAsync(http, 404, provider == Wire.Anthropic ? "Not found" : $"Invalid URL ({request.Method} {path})");
            return;
        }
        try
        {
            await next(http);
        }
        catch (Exception) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
        {
            http.Response.Clear();
            await Wire.ErrorAsync(http, 500, provider == Wire.Anthropic ? "Internal server error" : "The server had an error while processing your request. Sorry about that!");
        }
    }

    private async Task WriteHttpFaultAsync(HttpContext http, string provider, HttpFaultRule fault)
    {
        var retryAfter = TimeSpan.FromMilliseconds(fault.RetryAfterMs ?? 1000);
        if (fault.Status == 429 && fault.Code is "insufficient_quota" or "spend_limit")
        {
            await SyncRateLimiter.WriteQuotaExhaustedAsync(http, provider);
            return;
        }
        if (fault.Status is 429 or 503 or 529)
        {
            SyncRateLimiter.WriteRetryAfter(http.Response, retryAfter);
        }
        if (fault.Status == 429)
        {
            var now = _ctx.Now;
            var d = new RateDecision(false, "requests", _ctx.Options.RequestsPerMinute ?? 0, 0, _ctx.Options.TokensPerMinute ?? 0, 0, 0, 1, provider == Wire.Anthropic ? _ctx.Options.OutputTokensPerMinute ?? 0 : 0, 0, retryAfter, now + retryAfter);
            await SyncRateLimiter.WriteRateLimitedAsync(http, provider, d, "gpt-4o-mini");
            return;
        }
        if (provider == Wire.Anthropic)
        {
            var (type, message) = fault.Status switch
            {
                529 => ("overloaded_error", "Overloaded"),
                500 => ("api_error", "Internal server error"),
                502 => ("api_error", "Bad gateway"),
                503 => ("api_error", "Service unavailable"),
                504 => ("timeout_error", "Request timed out"),
                var s => (Wire.AnthropicTypeFor(s), $"Injected fault (HTTP {s})"),
            };
            await Wire.AnthropicErrorAsync(http, fault.Status, type, message);
            return;
        }
        var (msg, errType) = fault.Status switch
        {
            500 => ("The server had an error while processing your request. Sorry about that!", "server_error"),
            502 => ("Bad gateway.", "server_error"),
            503 or 529 => ("The engine is currently overloaded, please try again later.", "server_error"),
            var s when s >= 500 => ($"Injected fault (HTTP {s}).", "server_error"),
            var s => ($"Injected fault (HTTP {s}).", "invalid_request_error"),
        };
        await Wire.OpenAIErrorAsync(http, fault.Status, msg, errType);
    }

    private async Task<bool> AuthenticateAsync(HttpContext http, string provider)
    {
        var required = _ctx.Options.RequiredApiKey;
        var headers = http.Request.Headers;
        if (http.Request.Path.StartsWithSegments("/openai", StringComparison.Ordinal))
        {
            // Azure OpenAI: the key goes in the api-key header, and no request passes without one.
            var azureKey = headers["api-key"].ToString();
            if (azureKey.Length > 0 && (required is null || azureKey == required))
            {
                return true;
            }
            await Wire.WriteJsonAsync(http, 401, w =>
            {
                w.WriteStartObject();
                w.WriteStartObject("error"u8);
                w.WriteString("code"u8, "401"u8);
                w.WriteString("message"u8, azureKey.Length == 0
                    ? "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
                    : "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.");
                w.WriteEndObject();
                w.WriteEndObject();
            });
            return false;
        }
        if (required is null)
        {
            return true;
        }
        var auth = headers.Authorization.ToString();
        var bearer = auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? auth[7..].Trim() : null;
        if (provider == Wire.Anthropic)
        {
            var key = headers["x-api-key"].ToString();
            var given = key.Length > 0 ? key : bearer;
            if (given == required)
            {
                return true;
            }
            await Wire.AnthropicErrorAsync(http, 401, "authentication_error", string.IsNullOrEmpty(given) ? "x-api-key header is required" : "invalid x-api-key");
            return false;
        }
        if (bearer == required)
        {
            return true;
        }
        if (string.IsNullOrEmpty(bearer))
        {
            await Wire.OpenAIErrorAsync(http, 401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (i.e. -u YOUR_KEY:) when using HTTP Basic auth. You can obtain an API key from https://platform.openai.com/account/api-keys.");
        }
        else
        {
            await Wire.OpenAIErrorAsync(http, 401, $"Incorrect API key provided: {Mask(bearer)}. You can find your API key at https://platform.openai.com/account/api-keys.", code: "invalid_api_key");
        }
        return false;
    }

    /// <summary>Like OpenAI: a few leading characters and the last four, never the whole key.</summary>
    internal static string Mask(string key) =>
        key.Length <= 8 ? new string('*', key.Length) : key[..Math.Min(6, key.Length / 4)] + new string('*', key.Length - Math.Min(6, key.Length / 4) - 4) + key[^4..];

    private void MapAdmin(IEndpointRouteBuilder app)
    {
        app.MapGet("/_emulator/health", http => Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("status"u8, "ok"u8);
            w.WriteNumber("files"u8, _ctx.Store.Files.Count);
            w.WriteNumber("batches"u8, _ctx.Store.OpenAIBatches.Count + _ctx.Store.AnthropicBatches.Count);
            w.WriteEndObject();
        }));
        app.MapGet("/_emulator/batches", http =>
        {
            var batches = ListBatches();
            var withIds = http.Request.Query["custom_ids"].ToString() != "false";
            return Wire.WriteJsonAsync(http, 200, w => WriteBatches(w, batches, withIds));
        });
        app.MapGet("/_emulator/counters", http => Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            foreach (var (k, v) in Counters.Snapshot().OrderBy(x => x.Key, StringComparer.Ordinal))
            {
                w.WriteNumber(k, v);
            }
            w.WriteEndObject();
        }));
    }

    private static void WriteBatches(Utf8JsonWriter w, IReadOnlyList<EmulatedBatch> batches, bool withIds)
    {
        w.WriteStartArray();
        foreach (var b in batches)
        {
            w.WriteStartObject();
            w.WriteString("provider"u8, b.Provider);
            w.WriteString("id"u8, b.Id);
            w.WriteString("created_at"u8, TimeFormats.Rfc3339Micro(b.CreatedAt));
            w.WriteNumber("request_count"u8, b.RequestCount);
            if (b.Metadata is null)
            {
                w.WriteNull("metadata"u8);
            }
            else
            {
                w.WriteStartObject("metadata"u8);
                foreach (var (k, v) in b.Metadata)
                {
                    w.WriteString(k, v);
                }
                w.WriteEndObject();
            }
            w.WriteString("status"u8, b.Status);
            if (withIds)
            {
                w.WriteStartArray("custom_ids"u8);
                foreach (var id in b.CustomIds)
                {
                    w.WriteStringValue(id);
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}

/// <summary>The lines of a file, read on first access (custom ids of a batch).</summary>
internal sealed class FileLines(string path) : IReadOnlyList<string>
{
    private readonly Lazy<string[]> _lines = new(() => File.Exists(path) ? File.ReadAllLines(path) : []);

    public string this[int index] => _lines.Value[index];

    public int Count => _lines.Value.Length;

    public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)_lines.Value).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
