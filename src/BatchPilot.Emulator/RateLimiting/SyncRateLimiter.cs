using System.Globalization;
using BatchPilot.Emulator.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace BatchPilot.Emulator.RateLimiting;

/// <summary>The outcome of one rate-limit check and the numbers the headers report.</summary>
internal readonly record struct RateDecision(
    bool Allowed,
    string? LimitedBy,
    long RequestsLimit,
    long RequestsRemaining,
    long TokensLimit,
    long TokensRemaining,
    long TokensUsed,
    long TokensRequested,
    TimeSpan ResetIn,
    DateTimeOffset ResetAt);

/// <summary>
/// Requests- and tokens-per-minute limits on the synchronous endpoints, enforced over fixed windows of
/// one second at limit/60 per window (for limits under 60/min the window grows so that at least one
/// request fits), the way the real APIs quantize them. One window per provider.
/// </summary>
internal sealed class SyncRateLimiter(int? requestsPerMinute, int? tokensPerMinute)
{
    // Reported when no limit is configured, so that clients always see the headers.
    private const long NominalRequests = 10_000;
    private const long NominalTokens = 10_000_000;

    private readonly Dictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private sealed class Window
    {
        public long Start;
        public long Requests;
        public long Tokens;
    }

    public RateDecision Acquire(string provider, int tokens, DateTimeOffset now)
    {
        var windowMs = WindowMs();
        var nowMs = now.ToUnixTimeMilliseconds();
        var start = nowMs / windowMs * windowMs;
        var resetAt = DateTimeOffset.FromUnixTimeMilliseconds(start + windowMs);
        var resetIn = resetAt - now;
        long reqPerWindow = requestsPerMinute is { } r ? Math.Max(1, r * windowMs / 60_000) : long.MaxValue;
        long tokPerWindow = tokensPerMinute is { } t ? Math.Max(1, t * windowMs / 60_000) : long.MaxValue;
        lock (_lock)
        {
            if (!_windows.TryGetValue(provider, out var w) || w.Start != start)
            {
                _windows[provider] = w = new Window { Start = start };
            }
            string? limitedBy = null;
            if (w.Requests + 1 > reqPerWindow)
            {
                limitedBy = "requests";
            }
            else if (w.Tokens > 0 && w.Tokens + tokens > tokPerWindow)
            {
                limitedBy = "tokens";
            }
            if (limitedBy is null)
            {
                w.Requests++;
                w.Tokens += tokens;
            }
            return new RateDecision(
                limitedBy is null,
                limitedBy,
                requestsPerMinute ?? NominalRequests,
                requestsPerMinute is null ? NominalRequests - 1 : Math.Max(0, reqPerWindow - w.Requests),
                tokensPerMinute ?? NominalTokens,
                tokensPerMinute is null ? NominalTokens - tokens : Math.Max(0, tokPerWindow - w.Tokens),
                w.Tokens,
                tokens,
                requestsPerMinute is null && tokensPerMinute is null ? TimeSpan.Zero : resetIn,
                requestsPerMinute is null && tokensPerMinute is null ? now : resetAt);
        }
    }

    private long WindowMs()
    {
        var smallest = Math.Min(requestsPerMinute ?? int.MaxValue, tokensPerMinute ?? int.MaxValue);
        return smallest >= 60 ? 1000 : (long)Math.Ceiling(60.0 / Math.Max(1, smallest)) * 1000;
    }

    public static void WriteHeaders(HttpResponse response, string provider, RateDecision d)
    {
        var h = response.Headers;
        if (provider == Wire.Anthropic)
        {
            var reset = TimeFormats.Rfc3339Seconds(d.ResetAt);
            h["anthropic-ratelimit-requests-limit"] = Wire.Invariant(d.RequestsLimit);
            h["anthropic-ratelimit-requests-remaining"] = Wire.Invariant(d.RequestsRemaining);
            h["anthropic-ratelimit-requests-reset"] = reset;
            foreach (var kind in (ReadOnlySpan<string>)["tokens", "input-tokens", "output-tokens"])
            {
                h[$"anthropic-ratelimit-{kind}-limit"] = Wire.Invariant(d.TokensLimit);
                h[$"anthropic-ratelimit-{kind}-remaining"] = Wire.Invariant(d.TokensRemaining);
                h[$"anthropic-ratelimit-{kind}-reset"] = reset;
            }
        }
        else
        {
            var reset = TimeFormats.GoDuration(d.ResetIn);
            h["x-ratelimit-limit-requests"] = Wire.Invariant(d.RequestsLimit);
            h["x-ratelimit-remaining-requests"] = Wire.Invariant(d.RequestsRemaining);
            h["x-ratelimit-reset-requests"] = reset;
            h["x-ratelimit-limit-tokens"] = Wire.Invariant(d.TokensLimit);
            h["x-ratelimit-remaining-tokens"] = Wire.Invariant(d.TokensRemaining);
            h["x-ratelimit-reset-tokens"] = reset;
        }
    }

    public static void WriteRetryAfter(HttpResponse response, TimeSpan wait)
    {
        var ms = Math.Max(1, (long)Math.Ceiling(wait.TotalMilliseconds));
        response.Headers["retry-after"] = ((ms + 999) / 1000).ToString(CultureInfo.InvariantCulture);
        response.Headers["retry-after-ms"] = ms.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>"644ms" or "1.5s", as in OpenAI's "Please try again in …" messages.</summary>
    public static string TryAgainIn(TimeSpan wait)
    {
        var ms = Math.Max(1, (long)Math.Ceiling(wait.TotalMilliseconds));
        return ms < 1000 ? ms.ToString(CultureInfo.InvariantCulture) + "ms" : (ms / 1000.0).ToString("0.###", CultureInfo.InvariantCulture) + "s";
    }

    /// <summary>Writes the provider's 429 (headers and body) for a refused request.</summary>
    public static Task WriteRateLimitedAsync(HttpContext http, string provider, RateDecision d, string model)
    {
        WriteHeaders(http.Response, provider, d);
        WriteRetryAfter(http.Response, d.ResetIn);
        if (provider == Wire.Anthropic)
        {
            var what = d.LimitedBy == "tokens" ? $"{d.TokensLimit:N0} input tokens per minute" : $"{d.RequestsLimit} requests per minute";
            return Wire.AnthropicErrorAsync(http, 429, "rate_limit_error",
                $"This request would exceed the rate limit for your organization of {what}. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.");
        }
        var message = d.LimitedBy == "tokens"
            ? $"Rate limit reached for {model} in organization org-emulator on tokens per min (TPM): Limit {d.TokensLimit}, Used {d.TokensUsed}, Requested {d.TokensRequested}. Please try again in {TryAgainIn(d.ResetIn)}. Visit https://platform.openai.com/account/rate-limits to learn more."
            : $"Rate limit reached for {model} in organization org-emulator on requests per min (RPM): Limit {d.RequestsLimit}, Used {d.RequestsLimit}, Requested 1. Please try again in {TryAgainIn(d.ResetIn)}. Visit https://platform.openai.com/account/rate-limits to learn more.";
        return Wire.OpenAIErrorAsync(http, 429, message, d.LimitedBy == "tokens" ? "tokens" : "requests", null, "rate_limit_exceeded");
    }
}
