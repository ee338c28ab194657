using System.Globalization;
using System.Net;

namespace BatchPilot.Providers.Http;

/// <summary>Options of the transient-fault retry handler.</summary>
public sealed record RetryOptions
{
    /// <summary>Retries after the first attempt.</summary>
    public int MaxRetries { get; init; } = 6;

    /// <summary>Base delay of the exponential backoff.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Cap of one backoff delay.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest server hint (<c>retry-after</c>) honoured as is.</summary>
    public TimeSpan MaxServerHint { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>
/// Retries transient HTTP failures (408, 409, 429, 5xx including Anthropic's 529, connection errors) with
/// exponential backoff and jitter, honouring <c>retry-after-ms</c>, <c>retry-after</c> and <c>x-should-retry</c>.
/// Requests not marked retryable (uploads, batch creates) are never retried: an ambiguous failure is
/// reconciled by the engine instead.
/// </summary>
public sealed class RetryHandler : DelegatingHandler
{
    /// <summary>Request option that marks a request as safe to send again.</summary>
    public static readonly HttpRequestOptionsKey<bool> Retryable = new("batchpilot.retryable");

    /// <summary>Request option that receives the number of attempts made.</summary>
    public static readonly HttpRequestOptionsKey<System.Runtime.CompilerServices.StrongBox<int>> AttemptCount = new("batchpilot.attempts");

    private readonly RetryOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates the handler.</summary>
    public RetryHandler(RetryOptions options, TimeProvider time, HttpMessageHandler inner)
        : base(inner)
    {
        _options = options;
        _time = time;
    }

    /// <summary>Fires before each retry with the attempt number, delay and reason.</summary>
    public event Action<int, TimeSpan, string>? Retrying;

    /// <inheritdoc/>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var retryable = request.Method == HttpMethod.Get || request.Method == HttpMethod.Delete
            || (request.Options.TryGetValue(Retryable, out var r) && r);
        for (var attempt = 0; ; attempt++)
        {
            HttpResponseMessage? response = null;
            Exception? error = null;
            try
            {
                if (attempt > 0)
                {
                    request.Headers.Remove("X-Stainless-Retry-Count");
                    request.Headers.TryAddWithoutValidation("X-Stainless-Retry-Count", attempt.ToString(CultureInfo.InvariantCulture));
                }

                if (request.Options.TryGetValue(AttemptCount, out var counter))
                {
                    counter.Value = attempt + 1;
                }

                response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                error = ex;
            }
            catch (IOException ex)
            {
                error = ex;
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                error = ex; // per-attempt timeout
            }

            if (!retryable || attempt >= _options.MaxRetries)
            {
                if (error is not null)
                {
                    throw new HttpRequestException(error.Message, error);
                }

                return response!;
            }

            if (response is not null && (!ShouldRetry(response) || await IsSpendCapAsync(response, cancellationToken).ConfigureAwait(false)))
            {
                return response;
            }

            var delay = response is not null ? ServerHint(response) : null;
            delay ??= Backoff(attempt);
            var reason = response is not null ? $"HTTP {(int)response.StatusCode}" : "connection error: " + error!.GetBaseException().Message;
            response?.Dispose();
            Retrying?.Invoke(attempt + 1, delay.Value, reason);
            await Task.Delay(delay.Value, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True for statuses worth retrying, unless the server says otherwise.</summary>
    public static bool ShouldRetry(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.Headers.TryGetValues("x-should-retry", out var values))
        {
            var v = values.FirstOrDefault();
            if (string.Equals(v, "true", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            if (string.Equals(v, "false", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        var code = (int)response.StatusCode;
        return code is 408 or 409 or 429 || code >= 500;
    }

    /// <summary>True when a response carries a retry hint (<c>retry-after-ms</c> or <c>retry-after</c>).</summary>
    public static bool HasRetryHint(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.Headers.Contains("retry-after") || response.Headers.Contains("retry-after-ms");
    }

    /// <summary>
    /// True when a 429 without a retry hint reports an exhausted quota or spend cap: OpenAI <c>insufficient_quota</c>,
    /// Anthropic <c>enforced_spend_limit_reached</c> (or any <c>spend_limit</c> / billing wording). Waiting will not help.
    /// </summary>
    public static bool IsSpendCap(int status, bool hasRetryHint, string? body) =>
        status == 429 && !hasRetryHint && body is not null
        && (body.Contains("insufficient_quota", StringComparison.Ordinal) || body.Contains("spend_limit", StringComparison.Ordinal)
            || body.Contains("billing", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// A 429 without a retry hint that reports an exhausted quota or spend cap (OpenAI <c>insufficient_quota</c>,
    /// Anthropic <c>enforced_spend_limit_reached</c>): waiting will not help, so it is not retried.
    /// </summary>
    private static async Task<bool> IsSpendCapAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if ((int)response.StatusCode != 429 || HasRetryHint(response))
        {
            return false;
        }

        await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return IsSpendCap(429, hasRetryHint: false, body);
    }

    private TimeSpan? ServerHint(HttpResponseMessage response) => ServerHint(response, _time) is { } t ? Clamp(t) : null;

    /// <summary>The server's retry hint: <c>retry-after-ms</c> (milliseconds) first, else <c>retry-after</c> (seconds or an HTTP date).</summary>
    public static TimeSpan? ServerHint(HttpResponseMessage response, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(time);
        if (response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var msValue) && msValue >= 0)
        {
            return TimeSpan.FromMilliseconds(msValue);
        }

        if (response.Headers.RetryAfter is { } ra)
        {
            if (ra.Delta is { } delta)
            {
                return delta;
            }

            if (ra.Date is { } date)
            {
                var d = date - time.GetUtcNow();
                return d < TimeSpan.Zero ? TimeSpan.Zero : d;
            }
        }

        return null;
    }

    private TimeSpan Clamp(TimeSpan t) => t < TimeSpan.Zero ? TimeSpan.Zero : (t > _options.MaxServerHint ? _options.MaxServerHint : t);

    private TimeSpan Backoff(int attempt)
    {
        var baseMs = _options.BaseDelay.TotalMilliseconds * Math.Pow(2, attempt);
        baseMs = Math.Min(baseMs, _options.MaxDelay.TotalMilliseconds);
        var jitter = 1 - (Random.Shared.NextDouble() * 0.25);
        return TimeSpan.FromMilliseconds(baseMs * jitter);
    }

    /// <summary>True when a status is a rate limit or overload.</summary>
    public static bool IsThrottle(HttpStatusCode code) => (int)code is 429 or 529 or 503;
}
