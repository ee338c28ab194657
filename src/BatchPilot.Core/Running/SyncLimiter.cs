using BatchPilot.Providers;

namespace BatchPilot.Running;

/// <summary>
/// Client-side limiter for synchronous requests, in four dimensions: requests per minute, tokens per minute (input and
/// output together, as OpenAI counts them), and input and output tokens per minute apart (as Anthropic counts them).
/// Each is enforced over a sliding one-second window at limit/60 per second (for a limit under 60 per minute the window
/// grows until one unit fits), because the providers quantize their per-minute limits the same way: throughput stays at
/// the limit without a storm of 429s. Limits come from configuration or are learned from the providers' rate-limit
/// headers; a 429 pauses every request for the server's retry hint. Thread-safe.
/// </summary>
public sealed class SyncLimiter
{
    /// <summary>The longest pause a 429 imposes on every request.</summary>
    public static readonly TimeSpan MaxPause = TimeSpan.FromMinutes(2);

    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dimension _requests;
    private readonly Dimension _tokens;
    private readonly Dimension _input;
    private readonly Dimension _output;
    private DateTimeOffset _pausedUntil = DateTimeOffset.MinValue;
    private long _pauses;

    /// <summary>Creates a limiter; null limits are learned from response headers.</summary>
    /// <param name="time">The clock.</param>
    /// <param name="requestsPerMinute">Requests per minute (RPM).</param>
    /// <param name="tokensPerMinute">Input plus output tokens per minute (OpenAI's TPM).</param>
    /// <param name="inputTokensPerMinute">Input tokens per minute (Anthropic's ITPM).</param>
    /// <param name="outputTokensPerMinute">Output tokens per minute (Anthropic's OTPM), counted from the request's max tokens.</param>
    public SyncLimiter(TimeProvider time, long? requestsPerMinute = null, long? tokensPerMinute = null, long? inputTokensPerMinute = null, long? outputTokensPerMinute = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _requests = new Dimension(requestsPerMinute);
        _tokens = new Dimension(tokensPerMinute);
        _input = new Dimension(inputTokensPerMinute);
        _output = new Dimension(outputTokensPerMinute);
    }

    /// <summary>The requests-per-minute limit in force, if known.</summary>
    public long? RequestsPerMinute => Read(_requests);

    /// <summary>The tokens-per-minute limit (input and output together) in force, if known.</summary>
    public long? TokensPerMinute => Read(_tokens);

    /// <summary>The input-tokens-per-minute limit in force, if known.</summary>
    public long? InputTokensPerMinute => Read(_input);

    /// <summary>The output-tokens-per-minute limit in force, if known.</summary>
    public long? OutputTokensPerMinute => Read(_output);

    /// <summary>How many times a 429 paused every request.</summary>
    public long Pauses => Interlocked.Read(ref _pauses);

    private long? Read(Dimension d)
    {
        lock (_gate)
        {
            return d.Limit;
        }
    }

    /// <summary>Waits until a request of about <paramref name="tokens"/> tokens (input and output together) may be sent, then counts it.</summary>
    public ValueTask AcquireAsync(long tokens, CancellationToken cancellationToken = default) => AcquireAsync(tokens, 0, cancellationToken);

    /// <summary>
    /// Waits until a request may be sent, then counts it: one request, <paramref name="inputTokens"/> input tokens and
    /// <paramref name="outputTokens"/> output tokens (the request's max tokens, which the providers count up front).
    /// </summary>
    public async ValueTask AcquireAsync(long inputTokens, long outputTokens, CancellationToken cancellationToken = default)
    {
        var total = inputTokens + outputTokens;
        while (true)
        {
            long waitTicks;
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                if (now < _pausedUntil)
                {
                    waitTicks = (_pausedUntil - now).Ticks;
                }
                else
                {
                    var ticks = now.UtcTicks;
                    waitTicks = Math.Max(
                        Math.Max(_requests.WaitTicks(ticks, 1), _tokens.WaitTicks(ticks, total)),
                        Math.Max(_input.WaitTicks(ticks, inputTokens), _output.WaitTicks(ticks, outputTokens)));
                    if (waitTicks <= 0)
                    {
                        _requests.Add(ticks, 1);
                        _tokens.Add(ticks, total);
                        _input.Add(ticks, inputTokens);
                        _output.Add(ticks, outputTokens);
                        return;
                    }
                }
            }

            await Task.Delay(TimeSpan.FromTicks(Math.Max(waitTicks, TimeSpan.TicksPerMillisecond)), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Learns the limits the provider reported (unless configured), and after a 429 pauses every request for the
    /// server's hint (<c>retry-after</c>, else the reset of the exhausted budget, else one second; at most <see cref="MaxPause"/>).
    /// </summary>
    public void Observe(RateLimitInfo? info, bool throttled)
    {
        if (!throttled && info is null or { RequestsLimit: null, TokensLimit: null, InputTokensLimit: null, OutputTokensLimit: null })
        {
            return;
        }

        lock (_gate)
        {
            if (info is not null)
            {
                _requests.Learn(info.RequestsLimit);
                _input.Learn(info.InputTokensLimit);
                _output.Learn(info.OutputTokensLimit);

                // Anthropic's tokens-* headers repeat the most restrictive of its input and output limits: counting them
                // as a combined limit too would halve the rate.
                if (info.InputTokensLimit is null && info.OutputTokensLimit is null)
                {
                    _tokens.Learn(info.TokensLimit);
                }
            }

            if (throttled)
            {
                var wait = info?.RetryAfter ?? info?.ExhaustedReset() ?? TimeSpan.FromSeconds(1);
                wait = wait < TimeSpan.Zero ? TimeSpan.Zero : (wait > MaxPause ? MaxPause : wait);
                var until = _time.GetUtcNow() + wait;
                if (until > _pausedUntil)
                {
                    _pausedUntil = until;
                    _pauses++;
                }
            }
        }
    }

    /// <summary>One limited quantity: a sliding window of what was admitted, and its limit per minute.</summary>
    private sealed class Dimension(long? limit)
    {
        private readonly bool _fixed = limit is not null;
        private readonly Queue<(long Ticks, long Amount)> _entries = new();
        private long _sum;

        public long? Limit { get; private set; } = limit;

        /// <summary>One second, or longer for a limit under 60 per minute, so that at least one unit fits.</summary>
        private long WindowTicks => Limit is { } l and < 60 ? (long)Math.Ceiling(60.0 / Math.Max(1, l)) * TimeSpan.TicksPerSecond : TimeSpan.TicksPerSecond;

        private long Cap => Limit is { } l ? Math.Max(1, l * WindowTicks / TimeSpan.TicksPerMinute) : long.MaxValue;

        public void Learn(long? reported)
        {
            if (!_fixed && reported is > 0)
            {
                Limit = reported;
            }
        }

        /// <summary>Ticks to wait before <paramref name="amount"/> fits; 0 or less when it fits now.</summary>
        public long WaitTicks(long now, long amount)
        {
            var window = WindowTicks;
            Purge(now, window);
            var cap = Cap;

            // A single request larger than the whole window's share is let through alone, as the servers do.
            if (amount <= 0 || _sum + amount <= cap || _sum == 0)
            {
                return 0;
            }

            var mustLeave = _sum + amount - cap;
            long left = 0;
            foreach (var (ticks, size) in _entries)
            {
                left += size;
                if (left >= mustLeave || left == _sum)
                {
                    return ticks + window - now;
                }
            }

            return window;
        }

        public void Add(long now, long amount)
        {
            if (amount > 0)
            {
                _entries.Enqueue((now, amount));
                _sum += amount;
            }
        }

        private void Purge(long now, long window)
        {
            while (_entries.Count > 0 && _entries.Peek().Ticks <= now - window)
            {
                _sum -= _entries.Dequeue().Amount;
            }
        }
    }
}
