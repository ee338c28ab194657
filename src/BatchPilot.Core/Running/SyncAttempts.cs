using System.Globalization;
using System.Text;
using BatchPilot.Pricing;
using BatchPilot.Providers;

namespace BatchPilot.Running;

/// <summary>How synchronous requests are retried.</summary>
public sealed record SyncRetryOptions
{
    /// <summary>Attempts after the first one, for transient failures.</summary>
    public int MaxRetries { get; init; } = 6;

    /// <summary>First delay of the exponential backoff (doubled each attempt, with up to 25 % jitter taken off).</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest backoff delay.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest server hint (<c>retry-after-ms</c>, <c>retry-after</c>) honoured as is.</summary>
    public TimeSpan MaxServerHint { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Longest wait for one attempt's answer; a longer one is a transient failure (<c>request_timeout</c>).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>One attempt that failed and was followed by another.</summary>
/// <param name="Number">1 for the first attempt.</param>
/// <param name="StatusCode">The HTTP status, null for a connection failure or a timeout.</param>
/// <param name="ErrorCode">The provider's error code (or <c>connection_error</c>, <c>request_timeout</c>).</param>
/// <param name="Delay">The wait before the next attempt.</param>
public readonly record struct SyncAttempt(int Number, int? StatusCode, string? ErrorCode, TimeSpan Delay);

/// <summary>What happened to one request over all its attempts.</summary>
/// <param name="Result">The final result.</param>
/// <param name="Attempts">HTTP attempts made.</param>
/// <param name="Retried">The attempts that failed and were retried, in order.</param>
/// <param name="Throttled">Attempts answered with a 429.</param>
public sealed record SyncOutcome(ResultLine Result, int Attempts, IReadOnlyList<SyncAttempt> Retried, int Throttled)
{
    /// <summary>
    /// The history sentence recording each attempt of a request that needed more than one, e.g.
    /// <c>row-7: 3 attempts: #1 HTTP 429 rate_limit_exceeded, retried after 1.2 s; #2 connection_error, retried after 1 s; #3 succeeded.</c>
    /// </summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(Result.CustomId).Append(": ").Append(Attempts.ToString(CultureInfo.InvariantCulture)).Append(" attempts: ");
        foreach (var a in Retried)
        {
            sb.Append('#').Append(a.Number.ToString(CultureInfo.InvariantCulture)).Append(' ');
            if (a.StatusCode is { } status)
            {
                sb.Append("HTTP ").Append(status.ToString(CultureInfo.InvariantCulture));
                if (a.ErrorCode is { } code && code != "http_" + status.ToString(CultureInfo.InvariantCulture))
                {
                    sb.Append(' ').Append(code);
                }
            }
            else
            {
                sb.Append(a.ErrorCode ?? "failed");
            }

            sb.Append(", retried after ").Append(a.Delay.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)).Append(" s; ");
        }

        sb.Append('#').Append(Attempts.ToString(CultureInfo.InvariantCulture)).Append(' ');
        sb.Append(Result.Kind == ResultKind.Succeeded
            ? "succeeded"
            : "failed (" + (Result.StatusCode is { } s ? "HTTP " + s.ToString(CultureInfo.InvariantCulture) + " " : string.Empty) + (Result.ErrorCode ?? "error") + ")");
        return sb.Append('.').ToString();
    }
}

/// <summary>
/// Sends one request through the synchronous API: each attempt first waits for the rate limiter, the limiter learns
/// from every response, and transient failures (408, 409, 429, 5xx, 529, connection failures, timeouts) are retried
/// with exponential backoff and jitter, honouring the server's <c>retry-after-ms</c> / <c>retry-after</c>. A 429 that
/// reports an exhausted quota or spend cap is not retried (the client marks it final).
/// </summary>
public static class SyncAttempts
{
    /// <summary>Input tokens the providers count per message on top of its text (as the emulator and OpenAI's cookbook do).</summary>
    private const int TokensPerMessage = 3;

    /// <summary>
    /// Estimated input tokens of a request, from its character count as the providers' rate limiters estimate it, plus
    /// its images by the providers' image-token rules.
    /// </summary>
    public static long EstimateInputTokens(LlmRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        long chars = request.UserText.Length + (request.System?.Length ?? 0);
        var messages = 1 + (request.System is null ? 0 : 1) + request.PriorTurns.Count;
        foreach (var t in request.PriorTurns)
        {
            chars += t.Text.Length;
        }

        long images = 0;
        foreach (var image in request.Images)
        {
            images += TokenCounter.CountImage(request.Model, image.Width, image.Height);
        }

        return ((chars + 3) / 4) + (TokensPerMessage * messages) + TokensPerMessage + images;
    }

    /// <summary>Sends <paramref name="request"/> until it succeeds, fails for good, or the retries run out.</summary>
    /// <exception cref="ProviderException">The key was refused (401/403): nothing else will work either.</exception>
    public static async Task<SyncOutcome> SendAsync(ISyncClient client, SyncLimiter limiter, IdentifiedRequest request, SyncOptions options, TimeProvider time, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(limiter);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var retry = options.Retry;
        var input = EstimateInputTokens(request.Request);
        var output = (long)(request.Request.MaxTokens ?? options.AssumedOutputTokens);
        List<SyncAttempt>? retried = null;
        var throttled = 0;
        for (var attempt = 1; ; attempt++)
        {
            await limiter.AcquireAsync(input, output, cancellationToken).ConfigureAwait(false);
            var response = await SendOnceAsync(client, request, retry.AttemptTimeout, time, cancellationToken).ConfigureAwait(false);
            var was429 = response.Result.StatusCode == 429;
            throttled += was429 ? 1 : 0;
            limiter.Observe(response.Limits, was429);
            if (!response.Retryable || attempt > retry.MaxRetries)
            {
                return new SyncOutcome(response.Result, attempt, (IReadOnlyList<SyncAttempt>?)retried ?? [], throttled);
            }

            var delay = response.RetryAfter is { } hint
                ? (hint < TimeSpan.Zero ? TimeSpan.Zero : (hint > retry.MaxServerHint ? retry.MaxServerHint : hint))
                : Backoff(retry, attempt);
            (retried ??= []).Add(new SyncAttempt(attempt, response.Result.StatusCode, response.Result.ErrorCode, delay));
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<SyncResponse> SendOnceAsync(ISyncClient client, IdentifiedRequest request, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        // One linked source with its timer per attempt on the system clock; another clock needs its own timer source.
        using var deadline = time == TimeProvider.System ? null : new CancellationTokenSource(timeout, time);
        using var linked = deadline is null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        if (deadline is null)
        {
            linked.CancelAfter(timeout);
        }

        try
        {
            return await client.SendAsync(request, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var failed = new ResultLine
            {
                CustomId = request.CustomId,
                Kind = ResultKind.Failed,
                ErrorCode = "request_timeout",
                ErrorMessage = $"No answer within {timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s.",
            };
            return new SyncResponse(failed, null, 1) { Retryable = true };
        }
    }

    /// <summary><c>min(base × 2^(attempt-1), max)</c> with up to 25 % taken off at random, as the official SDKs do.</summary>
    private static TimeSpan Backoff(SyncRetryOptions retry, int attempt)
    {
        var ms = Math.Min(retry.BaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1), retry.MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ms * (1 - (Random.Shared.NextDouble() * 0.25)));
    }
}
