using System.Globalization;

namespace BatchPilot.Emulator;

/// <summary>Builds fault rules from normalized key/value pairs (shared by files and flags).</summary>
internal static class Rules
{
    public static readonly string[] ItemErrors =
    [
        "server_error", "context_length_exceeded", "rate_limit_exceeded", "request_timeout", "invalid_request_error",
        "overloaded", "api_error", "overloaded_error", "rate_limit_error", "timeout_error", "schema_violation",
    ];

    public static readonly string[] BatchKinds =
    [
        "validation_failure", "expire", "stuck_finalizing", "no_output_file", "only_error_file",
        "malformed_lines", "missing_lines", "duplicate_lines", "unknown_lines", "truncated_download",
    ];

    public static ItemFaultRule Item(Dictionary<string, string> v)
    {
        Check(v, "error", "rate", "firstattemptonly", "provider", "ids", "customids");
        var error = Get(v, "error") ?? "server_error";
        if (!ItemErrors.Contains(error))
        {
            throw new RuleException("error", $"unknown item error '{error}' (expected one of {string.Join(", ", ItemErrors)})");
        }
        var ids = Get(v, "customids") ?? Get(v, "ids");
        return new ItemFaultRule
        {
            Error = error,
            Rate = Rate(v, "rate") ?? 1,
            FirstAttemptOnly = Bool(v, "firstattemptonly"),
            Provider = Provider(v),
            CustomIds = ids?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
    }

    public static HttpFaultRule Http(Dictionary<string, string> v)
    {
        Check(v, "endpoint", "method", "path", "status", "rate", "nth", "first", "times", "retryafterms", "retryafter", "delayms", "reset", "midbody", "provider", "code");
        var method = Get(v, "method");
        var path = Get(v, "path");
        if (Get(v, "endpoint") is { } endpoint)
        {
            var space = endpoint.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0)
            {
                method ??= endpoint[..space];
                path ??= endpoint[(space + 1)..].Trim();
            }
            else if (endpoint.StartsWith('/') || endpoint == "*")
            {
                path ??= endpoint;
            }
            else
            {
                method ??= endpoint;
            }
        }
        var statusText = Get(v, "status");
        var midBody = Bool(v, "midbody");
        var reset = midBody || Bool(v, "reset") || string.Equals(statusText, "reset", StringComparison.OrdinalIgnoreCase);
        var status = 0;
        if (statusText is not null && !reset)
        {
            status = Int(v, "status") ?? 0;
            if (status is < 400 or > 599)
            {
                throw new RuleException("status", $"status must be an HTTP error code 400..599 or 'reset', not '{statusText}'");
            }
        }
        var delay = Int(v, "delayms") ?? 0;
        if (status == 0 && !reset && delay == 0)
        {
            throw new RuleException("status", "an http fault needs status, reset or delayMs");
        }
        var retryAfterMs = Int(v, "retryafterms") ?? (Rate(v, "retryafter") is { } s ? (int)(s * 1000) : null);
        return new HttpFaultRule
        {
            Method = (method ?? "*").ToUpperInvariant(),
            Path = path ?? "*",
            Status = status,
            Rate = Rate(v, "rate") ?? 1,
            Nth = Positive(v, "nth"),
            First = Positive(v, "first"),
            Times = Positive(v, "times"),
            RetryAfterMs = retryAfterMs,
            DelayMs = delay,
            Reset = reset,
            MidBody = midBody,
            Provider = Provider(v),
            Code = Get(v, "code"),
        };
    }

    public static BatchFaultRule Batch(Dictionary<string, string> v)
    {
        Check(v, "kind", "provider", "nth", "rate", "code", "message", "line", "fraction");
        var kind = Get(v, "kind") ?? throw new RuleException(null, "a batch fault needs a kind");
        if (!BatchKinds.Contains(kind))
        {
            throw new RuleException("kind", $"unknown batch fault '{kind}' (expected one of {string.Join(", ", BatchKinds)})");
        }
        return new BatchFaultRule
        {
            Kind = kind,
            Provider = Provider(v),
            Nth = Positive(v, "nth"),
            Rate = Rate(v, "rate") ?? 1,
            Code = Get(v, "code"),
            Message = Get(v, "message"),
            Line = Positive(v, "line"),
            Fraction = Rate(v, "fraction"),
        };
    }

    private static void Check(Dictionary<string, string> v, params string[] known)
    {
        foreach (var key in v.Keys)
        {
            if (!known.Contains(key))
            {
                throw new RuleException(key, $"unknown key '{key}'");
            }
        }
    }

    private static string? Get(Dictionary<string, string> v, string key) =>
        v.TryGetValue(key, out var s) && !string.IsNullOrWhiteSpace(s) ? s.Trim() : null;

    private static string? Provider(Dictionary<string, string> v)
    {
        var p = Get(v, "provider")?.ToLowerInvariant();
        return p is null or "openai" or "anthropic" ? p : throw new RuleException("provider", $"provider must be openai or anthropic, not '{p}'");
    }

    private static bool Bool(Dictionary<string, string> v, string key) => Get(v, key) switch
    {
        null => false,
        "true" or "True" or "yes" or "1" => true,
        "false" or "False" or "no" or "0" => false,
        var s => throw new RuleException(key, $"'{key}' must be true or false, not '{s}'"),
    };

    private static int? Int(Dictionary<string, string> v, string key) => Get(v, key) is { } s
        ? int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new RuleException(key, $"'{key}' must be an integer, not '{s}'")
        : null;

    private static int? Positive(Dictionary<string, string> v, string key) => Int(v, key) is { } n
        ? n >= 1 ? n : throw new RuleException(key, $"'{key}' must be 1 or more, not {n}")
        : null;

    private static double? Rate(Dictionary<string, string> v, string key) => Get(v, key) is { } s
        ? double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d is >= 0 and <= 1 || key == "retryafter" && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d) && d >= 0
            ? d
            : throw new RuleException(key, $"'{key}' must be a number between 0 and 1, not '{s}'")
        : null;
}

/// <summary>A rule value is wrong; <see cref="Key"/> (normalized) lets the file reader point at it.</summary>
internal sealed class RuleException(string? key, string message) : FormatException(message)
{
    public string? Key { get; } = key;
}

/// <summary>Matches method and path against a rule's pattern.</summary>
internal static class PathPattern
{
    public static bool Matches(string patternMethod, string pattern, string method, string path)
    {
        if (patternMethod != "*" && !string.Equals(patternMethod, method, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        if (pattern is "*" or "/**" or "**")
        {
            return true;
        }
        var p = pattern.Trim('/').Split('/');
        var s = path.Trim('/').Split('/');
        for (var i = 0; i < p.Length; i++)
        {
            if (p[i] == "**")
            {
                return true;
            }
            if (i >= s.Length)
            {
                return false;
            }
            var wildcard = p[i] == "*" || (p[i].StartsWith('{') && p[i].EndsWith('}'));
            if (!wildcard && !string.Equals(p[i], s[i], StringComparison.Ordinal))
            {
                return false;
            }
        }
        return p.Length == s.Length;
    }
}
