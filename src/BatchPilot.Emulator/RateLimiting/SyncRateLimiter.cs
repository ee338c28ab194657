using System.Globalization;
using BatchPilot.Emulator.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace BatchPilot.Emulator.RateLimiting;

/// <summary>The outcome of one rate-limit check and the numbers the headers report.</summary>
/// <param name="Allowed">The request may run.</param>
/// <param name="LimitedBy"><c>requests</c>, <c>tokens</c> (OpenAI tokens, Anthropic input tokens), <c>output_tokens</c> (Anthropic), or null.</param>
/// <param name="RequestsLimit">Requests per minute reported; 0 when not limited (no header is sent for an unlimited dimension).</param>
/// <param name="RequestsRemaining">Requests left in the window.</param>
/// <param name="TokensLimit">OpenAI: tokens per minute; Anthropic: input tokens per minute; 0 when not limited.</param>
/// <param name="TokensRemaining">Those tokens left in the window.</param>
/// <param name="TokensUsed">Those tokens used in the window.</param>
/// <param name="TokensRequested">Those tokens the request counts for.</param>
/// <param name="OutputLimit">Anthropic: output tokens per minute; 0 when not limited.</param>
/// <param name="OutputRemaining">Anthropic: output tokens left in the window.</param>
/// <param name="ResetIn">Time until the window ends.</param>
/// <param name="ResetAt">When the window ends.</param>
internal readonly record struct RateDecision(
    bool Allowed,
    string? LimitedBy,
    long RequestsLimit,
    long RequestsRemaining,
    long TokensLimit,
    long TokensRemaining,
    long TokensUsed,
    long TokensRequested,
    long OutputLimit,
    long OutputRemaining,
    TimeSpan ResetIn,
    DateTimeOffset ResetAt);

/// <summary>
/// Requests- and tokens-per-minute limits on the synchronous endpoints, enforced over fixed windows of one second at
/// limit/60 per window (for limits under 60/min the window grows so that at least one request fits), the way the real
/// APIs quantize them. One window per provider. Tokens are counted as the providers count them when the request
/// arrives: OpenAI (and compatible endpoints) input plus the requested maximum output against one TPM limit;
/// Anthropic input tokens (ITPM, <c>--tpm</c>) and the requested <c>max_tokens</c> (OTPM, <c>--otpm</c>) apart.
/// Only the limits in force are reported in the headers: an unlimited emulator sends none, like a local
/// OpenAI-compatible server, so that clients never learn a limit that is not enforced.
/// </summary>
internal sealed class SyncRateLimiter(int? requestsPerMinute, int? tokensPerMinute, int? outputTokensPerMinute = null)
{
    // Quoted in the message of an injected 429 when no limit is configured.
    private const long NominalRequests = 10_000;

    private readonly Dictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private sealed class Window
    {
        public long Start;
        public long Requests;
        public long Tokens;
        public long Output;
    }

    private bool Unlimited => requestsPerMinute is null && tokensPerMinute is null && outputTokensPerMinute is null;

    /// <summary>Checks and counts one request of <paramref name="inputTokens"/> input and <paramref name="outputTokens"/> requested output tokens.</summary>
    public RateDecision Acquire(string provider, int inputTokens, int outputTokens, DateTimeOffset now)
    {
        if (Unlimited)
        {
            // Nothing to enforce or report: no window, no lock.
            return new RateDecision(true, null, 0, 0, 0, 0, 0, inputTokens + outputTokens, 0, 0, TimeSpan.Zero, now);
        }

        var anthropic = provider == Wire.Anthropic;
        var windowMs = WindowMs();
        var nowMs = now.ToUnixTimeMilliseconds();
        var start = nowMs / windowMs * windowMs;
        var resetAt = DateTimeOffset.FromUnixTimeMilliseconds(start + windowMs);
        var resetIn = resetAt - now;
        long reqPerWindow = PerWindow(requestsPerMinute, windowMs);
        long tokPerWindow = PerWindow(tokensPerMinute, windowMs);
        long outPerWindow = anthropic ? PerWindow(outputTokensPerMinute, windowMs) : long.MaxValue;
        long tokens = anthropic ? inputTokens : inputTokens + outputTokens;
        long output = anthropic ? outputTokens : 0;
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
            else if (w.Output > 0 && w.Output + output > outPerWindow)
            {
                limitedBy = "output_tokens";
            }
            if (limitedBy is null)
            {
                w.Requests++;
                w.Tokens += tokens;
                w.Output += output;
            }
            return new RateDecision(
                limitedBy is null,
                limitedBy,
                requestsPerMinute ?? 0,
                requestsPerMinute is null ? 0 : Math.Max(0, reqPerWindow - w.Requests),
                tokensPerMinute ?? 0,
                tokensPerMinute is null ? 0 : Math.Max(0, tokPerWindow - w.Tokens),
                w.Tokens,
                tokens,
                anthropic ? outputTokensPerMinute ?? 0 : 0,
                outputTokensPerMinute is null || !anthropic ? 0 : Math.Max(0, outPerWindow - w.Output),
                resetIn,
                resetAt);
        }
    }

    private static long PerWindow(int? perMinute, long windowMs) => perMinute is { } n ? Math.Max(1, n * windowMs / 60_000) : long.MaxValue;

    private long WindowMs()
    {
        var smallest = Math.Min(requestsPerMinute ?? int.MaxValue, Math.Min(tokensPerMinute ?? int.MaxValue, outputTokensPerMinute ?? int.MaxValue));
        return smallest >= 60 ? 1000 : (long)Math.Ceiling(60.0 / Math.Max(1, smallest)) * 1000;
    }

    public static void WriteHeaders(HttpResponse response, string provider, RateDecision d)
    {
        var h = response.Headers;
        if (provider == Wire.Anthropic)
        {
            var reset = TimeFormats.Rfc3339Seconds(d.ResetAt);
            void Set(string kind, long limit, long remaining)
            {
                if (limit > 0)
                {
                    h[$"anthropic-ratelimit-{kind}-limit"] = Wire.Invariant(limit);
                    h[$"anthropic-ratelimit-{kind}-remaining"] = Wire.Invariant(remaining);
                    h[$"anthropic-ratelimit-{kind}-reset"] = reset;
                }
            }

            Set("requests", d.RequestsLimit, d.RequestsRemaining);
            Set("input-tokens", d.TokensLimit, d.TokensRemaining);
            Set("output-tokens", d.OutputLimit, d.OutputRemaining);

            // tokens-* show the most restrictive of the input and output limits in effect.
            var outputTighter = d.OutputLimit > 0 && (d.TokensLimit == 0 || d.OutputRemaining < d.TokensRemaining);
            Set("tokens", outputTighter ? d.OutputLimit : d.TokensLimit, outputTighter ? d.OutputRemaining : d.TokensRemaining);
        }
        else
        {
            var reset = TimeFormats.GoDuration(d.ResetIn);
            if (d.RequestsLimit > 0)
            {
                h["x-ratelimit-limit-requests"] = Wire.Invariant(d.RequestsLimit);
                h["x-ratelimit-remaining-requests"] = Wire.Invariant(d.RequestsRemaining);
                h["x-ratelimit-reset-requests"] = reset;
            }
            if (d.TokensLimit > 0)
            {
                h["x-ratelimit-limit-tokens"] = Wire.Invariant(d.TokensLimit);
                h["x-ratelimit-remaining-tokens"] = Wire.Invariant(d.TokensRemaining);
                h["x-ratelimit-reset-tokens"] = reset;
            }
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

    private static long Shown(long limit) => limit > 0 ? limit : NominalRequests;

    /// <summary>Writes the provider's 429 (headers and body) for a refused request.</summary>
    public static Task WriteRateLimitedAsync(HttpContext http, string provider, RateDecision d, string model)
    {
        WriteHeaders(http.Response, provider, d);
        WriteRetryAfter(http.Response, d.ResetIn);
        if (provider == Wire.Anthropic)
        {
            var what = d.LimitedBy switch
            {
                "tokens" => $"{d.TokensLimit.ToString("N0", CultureInfo.InvariantCulture)} input tokens per minute",
                "output_tokens" => $"{d.OutputLimit.ToString("N0", CultureInfo.InvariantCulture)} output tokens per minute",
                _ => $"{Shown(d.RequestsLimit).ToString(CultureInfo.InvariantCulture)} requests per minute",
            };
            return Wire.AnthropicErrorAsync(http, 429, "rate_limit_error",
                $"This request would exceed the rate limit for your organization of {what}. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.");
        }
        var message = d.LimitedBy == "tokens"
            ? $"Rate limit reached for {model} in organization org-emulator on tokens per min (TPM): Limit {d.TokensLimit}, Used {d.TokensUsed}, Requested {d.TokensRequested}. Please try again in {TryAgainIn(d.ResetIn)}. Visit https://platform.openai.com/account/rate-limits to learn more."
            : $"Rate limit reached for {model} in organization org-emulator on requests per min (RPM): Limit {Shown(d.RequestsLimit)}, Used {Shown(d.RequestsLimit)}, Requested 1. Please try again in {TryAgainIn(d.ResetIn)}. Visit https://platform.openai.com/account/rate-limits to learn more.";
        return Wire.OpenAIErrorAsync(http, 429, message, d.LimitedBy == "tokens" ? "tokens" : "requests", null, "rate_limit_exceeded");
    }

    /// <summary>
    /// Writes the 429 of an exhausted quota or spend cap: no retry hint, OpenAI <c>insufficient_quota</c> or Anthropic's
    /// <c>rate_limit_error</c> with <c>error.details.error_code: enforced_spend_limit_reached</c>. Retrying cannot help.
    /// </summary>
    public static Task WriteQuotaExhaustedAsync(HttpContext http, string provider)
    {
        if (provider == Wire.Anthropic)
        {
            var requestId = http.Response.Headers["request-id"].ToString();
            return Wire.WriteJsonAsync(http, 429, w =>
            {
                w.WriteStartObject();
                w.WriteString("type"u8, "error"u8);
                w.WriteStartObject("error"u8);
                w.WriteString("type"u8, "rate_limit_error"u8);
                w.WriteString("message"u8, "You have reached your specified workspace API usage limits. You will regain access on the first day of next month.");
                w.WriteStartObject("details"u8);
                w.WriteString("error_code"u8, "enforced_spend_limit_reached"u8);
                w.WriteEndObject();
                w.WriteEndObject();
                Wire.WriteStringOrNull(w, "request_id"u8, requestId.Length > 0 ? requestId : null);
                w.WriteEndObject();
            });
        }
        return Wire.OpenAIErrorAsync(http, 429, "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.", "insufficient_quota", null, "insufficient_quota");
    }
}
