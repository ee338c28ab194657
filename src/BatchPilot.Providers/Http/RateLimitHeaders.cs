using System.Globalization;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace BatchPilot.Providers.Http;

/// <summary>Reads the providers' rate-limit response headers.</summary>
public static partial class RateLimitHeaders
{
    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|h|m|s)")]
    private static partial Regex DurationPart();

    /// <summary>Parses an OpenAI reset duration such as <c>6m0s</c>, <c>2s81ms</c>, <c>12ms</c> or <c>1s</c>.</summary>
    public static TimeSpan? ParseDuration(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var total = TimeSpan.Zero;
        var matched = 0;
        foreach (Match m in DurationPart().Matches(text))
        {
            var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(value),
                "m" => TimeSpan.FromMinutes(value),
                "s" => TimeSpan.FromSeconds(value),
                _ => TimeSpan.FromMilliseconds(value),
            };
            matched += m.Length;
        }

        return matched == text.Trim().Length ? total : null;
    }

    /// <summary>OpenAI: <c>x-ratelimit-{limit,remaining,reset}-{requests,tokens}</c> with Go-style durations.</summary>
    public static RateLimitInfo OpenAI(HttpResponseHeaders headers, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return new RateLimitInfo
        {
            RequestsLimit = Long(headers, "x-ratelimit-limit-requests"),
            RequestsRemaining = Long(headers, "x-ratelimit-remaining-requests"),
            RequestsReset = ParseDuration(Value(headers, "x-ratelimit-reset-requests")),
            TokensLimit = Long(headers, "x-ratelimit-limit-tokens"),
            TokensRemaining = Long(headers, "x-ratelimit-remaining-tokens"),
            TokensReset = ParseDuration(Value(headers, "x-ratelimit-reset-tokens")),
            RetryAfter = RetryAfter(headers, time),
        };
    }

    /// <summary>
    /// Anthropic: <c>anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}</c> with
    /// RFC 3339 resets (input and output tokens are limited apart; <c>tokens-*</c> repeat the most restrictive of them).
    /// </summary>
    public static RateLimitInfo Anthropic(HttpResponseHeaders headers, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(time);
        TimeSpan? Reset(string name) => Value(headers, name) is { } v && DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? (at - time.GetUtcNow() is var d && d > TimeSpan.Zero ? d : TimeSpan.Zero)
            : null;
        return new RateLimitInfo
        {
            RequestsLimit = Long(headers, "anthropic-ratelimit-requests-limit"),
            RequestsRemaining = Long(headers, "anthropic-ratelimit-requests-remaining"),
            RequestsReset = Reset("anthropic-ratelimit-requests-reset"),
            TokensLimit = Long(headers, "anthropic-ratelimit-tokens-limit"),
            TokensRemaining = Long(headers, "anthropic-ratelimit-tokens-remaining"),
            TokensReset = Reset("anthropic-ratelimit-tokens-reset"),
            InputTokensLimit = Long(headers, "anthropic-ratelimit-input-tokens-limit"),
            InputTokensRemaining = Long(headers, "anthropic-ratelimit-input-tokens-remaining"),
            InputTokensReset = Reset("anthropic-ratelimit-input-tokens-reset"),
            OutputTokensLimit = Long(headers, "anthropic-ratelimit-output-tokens-limit"),
            OutputTokensRemaining = Long(headers, "anthropic-ratelimit-output-tokens-remaining"),
            OutputTokensReset = Reset("anthropic-ratelimit-output-tokens-reset"),
            RetryAfter = RetryAfter(headers, time),
        };
    }

    private static string? Value(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static long? Long(HttpResponseHeaders headers, string name) =>
        long.TryParse(Value(headers, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v : null;

    private static TimeSpan? RetryAfter(HttpResponseHeaders headers, TimeProvider time)
    {
        if (double.TryParse(Value(headers, "retry-after-ms"), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms >= 0)
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        if (headers.RetryAfter is { } ra)
        {
            return ra.Delta ?? (ra.Date is { } date ? date - time.GetUtcNow() : null);
        }

        return null;
    }
}
