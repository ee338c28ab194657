using System.Collections.Concurrent;
using System.Security.Cryptography;
using BatchPilot.Web.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BatchPilot.Web.Hosting;

/// <summary>Everything the routes share: options, secrets of this process, the job index, the engine runner, uploads.</summary>
internal sealed class DashboardState
{
    private readonly ConcurrentDictionary<string, (string Text, bool Error, DateTimeOffset At)> _flash = new(StringComparer.Ordinal);

    public DashboardState(DashboardOptions options, string? token, bool loopbackOnly)
    {
        Options = options;
        Token = token;
        LoopbackOnly = loopbackOnly;
        Csrf = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        Index = new JobIndex(options.Store, options.Time, options.Costs.Prices);
        Runner = new JobRunner(this);
        Responses = new ResponseCache(Index, options.Time);
        Uploads = new UploadStore(Path.Combine(options.DataDirectory, "uploads"), options.MaxUploadBytes, options.AllowedInputFolder);
    }

    public DashboardOptions Options { get; }

    /// <summary>The access token in force, or null.</summary>
    public string? Token { get; }

    public bool LoopbackOnly { get; }

    /// <summary>The anti-forgery token of this process: rendered into pages, required on every state-changing request.</summary>
    public string Csrf { get; }

    public JobIndex Index { get; }

    public JobRunner Runner { get; }

    /// <summary>Rendered responses of the routes that read only the job index.</summary>
    public ResponseCache Responses { get; }

    public UploadStore Uploads { get; }

    public ILogger Logger { get; set; } = NullLogger.Instance;

    public TimeProvider Time => Options.Time;

    /// <summary>Stores a message shown once after a redirect; returns its key (so no text travels in URLs).</summary>
    public string Flash(string text, bool error = false)
    {
        var now = Time.GetUtcNow();
        foreach (var (k, v) in _flash)
        {
            if (now - v.At > TimeSpan.FromMinutes(10))
            {
                _flash.TryRemove(k, out _);
            }
        }

        var key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        _flash[key] = (text, error, now);
        return key;
    }

    public (string Text, bool Error)? TakeFlash(string? key) =>
        key is not null && _flash.TryRemove(key, out var v) ? (v.Text, v.Error) : null;
}
