using BatchPilot.Providers;

namespace BatchPilot.Running;

/// <summary>
/// Client-side limiter for synchronous requests: requests per minute and tokens per minute, enforced over sliding
/// one-second windows at limit/60 per second (the providers quantize their limits the same way), so throughput stays
/// at the limit without a storm of 429s. Limits come from configuration or are learned from the providers'
/// rate-limit headers; a 429 with a retry hint pauses everyone. Thread-safe.
/// </summary>
public sealed class SyncLimiter
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Queue<(long Ticks, long Tokens)> _window = new();
    private readonly bool _fixedRequests;
    private readonly bool _fixedTokens;
    private long? _requestsPerMinute;
    private long? _tokensPerMinute;
    private long _windowTokens;
    private DateTimeOffset _pausedUntil = DateTimeOffset.MinValue;

    /// <summary>Creates a limiter; null limits are learned from response headers.</summary>
    public SyncLimiter(TimeProvider time, long? requestsPerMinute = null, long? tokensPerMinute = null)
    {
        _time = time;
        _requestsPerMinute = requestsPerMinute;
        _tokensPerMinute = tokensPerMinute;
        _fixedRequests = requestsPerMinute is not null;
        _fixedTokens = tokensPerMinute is not null;
    }

    /// <summary>The requests-per-minute limit in force, if known.</summary>
    public long? RequestsPerMinute
    {
        get
        {
            lock (_gate)
            {
                return _requestsPerMinute;
            }
        }
    }

    /// <summary>The tokens-per-minute limit in force, if known.</summary>
    public long? TokensPerMinute
    {
        get
        {
            lock (_gate)
            {
                return _tokensPerMinute;
            }
        }
    }

    /// <summary>Waits until a request of about <paramref name="tokens"/> tokens may be sent, then counts it.</summary>
    public async ValueTask AcquireAsync(long tokens, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                Purge(now.UtcTicks);
                if (now < _pausedUntil)
                {
                    wait = _pausedUntil - now;
                }
                else
                {
                    var requestCap = _requestsPerMinute is { } r ? Math.Max(1, r / 60) : long.MaxValue;
                    var tokenCap = _tokensPerMinute is { } t ? Math.Max(1, t / 60) : long.MaxValue;
                    var fitsRequests = _window.Count + 1 <= requestCap;
                    var fitsTokens = _windowTokens + tokens <= tokenCap || _window.Count == 0;
                    if (fitsRequests && fitsTokens)
                    {
                        _window.Enqueue((now.UtcTicks, tokens));
                        _windowTokens += tokens;
                        return;
                    }

                    wait = TimeSpan.FromTicks(_window.Peek().Ticks + TimeSpan.TicksPerSecond - now.UtcTicks);
                }
            }

            await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Purge(long nowTicks)
    {
        while (_window.Count > 0 && _window.Peek().Ticks <= nowTicks - TimeSpan.TicksPerSecond)
        {
            _windowTokens -= _window.Dequeue().Tokens;
        }
    }

    /// <summary>Learns the limits the provider reported (unless configured) and honours its retry hint.</summary>
    public void Observe(RateLimitInfo? info, bool throttled)
    {
        if (info is null)
        {
            return;
        }

        lock (_gate)
        {
            if (!_fixedRequests && info.RequestsLimit is > 0)
            {
                _requestsPerMinute = info.RequestsLimit;
            }

            if (!_fixedTokens && info.TokensLimit is > 0)
            {
                _tokensPerMinute = info.TokensLimit;
            }

            if (throttled)
            {
                var until = _time.GetUtcNow() + (info.RetryAfter ?? TimeSpan.FromSeconds(1));
                if (until > _pausedUntil)
                {
                    _pausedUntil = until;
                }
            }
        }
    }
}
