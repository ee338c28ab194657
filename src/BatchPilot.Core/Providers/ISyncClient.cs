namespace BatchPilot.Providers;

/// <summary>The rate limits a provider reported on a response (any field may be missing).</summary>
public sealed record RateLimitInfo
{
    /// <summary>Requests allowed per minute.</summary>
    public long? RequestsLimit { get; init; }

    /// <summary>Requests left in the current window.</summary>
    public long? RequestsRemaining { get; init; }

    /// <summary>Time until the request budget is full again.</summary>
    public TimeSpan? RequestsReset { get; init; }

    /// <summary>Tokens allowed per minute.</summary>
    public long? TokensLimit { get; init; }

    /// <summary>Tokens left in the current window.</summary>
    public long? TokensRemaining { get; init; }

    /// <summary>Time until the token budget is full again.</summary>
    public TimeSpan? TokensReset { get; init; }

    /// <summary>The server's retry hint on a 429.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>The outcome of one synchronous request, after the transport's own retries.</summary>
/// <param name="Result">What happened to the item (same shape as a batch result line).</param>
/// <param name="Limits">The rate limits reported on the last response, if any.</param>
/// <param name="Attempts">HTTP attempts made (1 when the first succeeded).</param>
public sealed record SyncResponse(ResultLine Result, RateLimitInfo? Limits, int Attempts);

/// <summary>A provider's synchronous API (chat completions, messages): one request, one answer.</summary>
public interface ISyncClient : IDisposable
{
    /// <summary>Provider name.</summary>
    string Provider { get; }

    /// <summary>Sends one request. Provider errors are data in the result, not exceptions; a refused key throws.</summary>
    Task<SyncResponse> SendAsync(IdentifiedRequest request, CancellationToken cancellationToken = default);
}
