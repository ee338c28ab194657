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

    /// <summary>Input tokens allowed per minute, where the provider limits them apart (Anthropic ITPM).</summary>
    public long? InputTokensLimit { get; init; }

    /// <summary>Input tokens left in the current window.</summary>
    public long? InputTokensRemaining { get; init; }

    /// <summary>Time until the input-token budget is full again.</summary>
    public TimeSpan? InputTokensReset { get; init; }

    /// <summary>Output tokens allowed per minute, where the provider limits them apart (Anthropic OTPM).</summary>
    public long? OutputTokensLimit { get; init; }

    /// <summary>Output tokens left in the current window.</summary>
    public long? OutputTokensRemaining { get; init; }

    /// <summary>Time until the output-token budget is full again.</summary>
    public TimeSpan? OutputTokensReset { get; init; }

    /// <summary>The server's retry hint on a 429.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// How long until the exhausted budget (a remaining count of 0) is available again, if the headers say so: the wait
    /// to use after a 429 that carries no <see cref="RetryAfter"/>.
    /// </summary>
    public TimeSpan? ExhaustedReset()
    {
        TimeSpan? longest = null;
        void Consider(long? remaining, TimeSpan? reset)
        {
            if (remaining == 0 && reset is { } r && (longest is null || r > longest))
            {
                longest = r;
            }
        }

        Consider(RequestsRemaining, RequestsReset);
        Consider(TokensRemaining, TokensReset);
        Consider(InputTokensRemaining, InputTokensReset);
        Consider(OutputTokensRemaining, OutputTokensReset);
        return longest;
    }
}

/// <summary>The outcome of one synchronous HTTP attempt.</summary>
/// <param name="Result">What happened to the item (same shape as a batch result line).</param>
/// <param name="Limits">The rate limits reported on the response, if any.</param>
/// <param name="Attempts">HTTP attempts this outcome stands for (1: clients send exactly once; see <see cref="Retryable"/>).</param>
public sealed record SyncResponse(ResultLine Result, RateLimitInfo? Limits, int Attempts)
{
    /// <summary>
    /// True when the failure is transient and the same request may be sent again: 408, 409, 429 (unless it reports an
    /// exhausted quota or spend cap), 5xx including Anthropic's 529, a connection failure, or the server's
    /// <c>x-should-retry: true</c>.
    /// </summary>
    public bool Retryable { get; init; }

    /// <summary>The server's retry hint (<c>retry-after-ms</c>, else <c>retry-after</c>), if any.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>
/// A provider's synchronous API (chat completions, responses, messages): one request, one HTTP attempt, one answer.
/// Retries are the caller's (see <c>SyncRunner</c>), so that each attempt goes through the rate limiter and is recorded.
/// </summary>
public interface ISyncClient : IDisposable
{
    /// <summary>Provider name.</summary>
    string Provider { get; }

    /// <summary>Sends one request once. Provider and transport errors are data in the result, not exceptions; a refused key throws.</summary>
    Task<SyncResponse> SendAsync(IdentifiedRequest request, CancellationToken cancellationToken = default);
}
