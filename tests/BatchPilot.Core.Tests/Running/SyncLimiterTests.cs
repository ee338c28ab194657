using BatchPilot.Providers;
using BatchPilot.Running;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Core.Tests.Running;

/// <summary>The client-side limiter on a fake clock: per-second quantization, input/output tokens apart, learning, 429 pauses.</summary>
public sealed class SyncLimiterTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static FakeTimeProvider Clock() => new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    /// <summary>Acquires <paramref name="n"/> times; returns how many were admitted at once and the tasks still waiting.</summary>
    private static (int Admitted, List<Task> Waiting) Acquire(SyncLimiter limiter, int n, long input = 1, long output = 0)
    {
        var waiting = new List<Task>();
        var admitted = 0;
        for (var i = 0; i < n; i++)
        {
            var t = limiter.AcquireAsync(input, output).AsTask();
            if (t.IsCompleted)
            {
                admitted++;
            }
            else
            {
                waiting.Add(t);
            }
        }

        return (admitted, waiting);
    }

    [Fact]
    public async Task Acquire_AtTheRequestLimit_AdmitsLimitOver60PerSecond_AndTheRestWhenTheWindowSlides()
    {
        // Given 600 requests per minute: 10 per second
        var clock = Clock();
        var limiter = new SyncLimiter(clock, requestsPerMinute: 600);

        // When 25 requests ask at once
        var (admitted, waiting) = Acquire(limiter, 25);

        // Then 10 go now, 10 more one second later, and the last 5 a second after that
        Assert.Equal(10, admitted);
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.All(waiting, t => Assert.False(t.IsCompleted));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(10, await CompletedAsync(waiting, 10));
        clock.Advance(TimeSpan.FromSeconds(1));
        await Task.WhenAll(waiting).WaitAsync(Bound);
    }

    /// <summary>Waits (boundedly, on the real clock) until at least <paramref name="expected"/> tasks completed, then a little more; returns how many did.</summary>
    private static async Task<int> CompletedAsync(List<Task> tasks, int expected)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (tasks.Count(t => t.IsCompleted) < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        await Task.Delay(100);
        return tasks.Count(t => t.IsCompleted);
    }

    [Fact]
    public void Acquire_InputAndOutputTokens_AreLimitedApart_AsAnthropicCountsThem()
    {
        // Given 6,000 input tokens (100/s) and 600 output tokens (10/s) per minute
        var limiter = new SyncLimiter(Clock(), inputTokensPerMinute: 6_000, outputTokensPerMinute: 600);

        // When requests of 10 input and 5 output tokens ask at once
        var (admitted, _) = Acquire(limiter, 5, input: 10, output: 5);

        // Then the output limit decides: two per second, although ten would fit the input limit
        Assert.Equal(2, admitted);
    }

    [Fact]
    public void Acquire_CombinedTokens_CountInputAndOutputTogether_AsOpenAICountsThem()
    {
        var limiter = new SyncLimiter(Clock(), tokensPerMinute: 6_000);

        var (admitted, _) = Acquire(limiter, 5, input: 30, output: 20);

        Assert.Equal(2, admitted);
    }

    [Fact]
    public async Task Acquire_LimitUnder60PerMinute_WidensTheWindowSoThatOneRequestFits()
    {
        // Given 30 requests per minute: one every two seconds
        var clock = Clock();
        var limiter = new SyncLimiter(clock, requestsPerMinute: 30);

        var (admitted, waiting) = Acquire(limiter, 2);
        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(1, admitted);
        Assert.False(waiting[0].IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));
        await waiting[0].WaitAsync(Bound);
    }

    [Fact]
    public void Acquire_ARequestLargerThanTheWindowsShare_GoesAlone()
    {
        var limiter = new SyncLimiter(Clock(), tokensPerMinute: 600);

        var (admitted, waiting) = Acquire(limiter, 2, input: 50);

        Assert.Equal(1, admitted);
        Assert.Single(waiting);
    }

    [Fact]
    public void Observe_LearnsEachLimit_ButAnthropicsTokensHeaderIsNotACombinedLimit()
    {
        var limiter = new SyncLimiter(Clock(), requestsPerMinute: 40);

        limiter.Observe(new RateLimitInfo { RequestsLimit = 50, TokensLimit = 8_000, InputTokensLimit = 30_000, OutputTokensLimit = 8_000 }, throttled: false);

        Assert.Equal(40, limiter.RequestsPerMinute);
        Assert.Null(limiter.TokensPerMinute);
        Assert.Equal(30_000, limiter.InputTokensPerMinute);
        Assert.Equal(8_000, limiter.OutputTokensPerMinute);
    }

    [Fact]
    public void Observe_OpenAIHeaders_SetTheCombinedTokenLimit_AndIgnoreZeroLimits()
    {
        var limiter = new SyncLimiter(Clock());

        limiter.Observe(new RateLimitInfo { RequestsLimit = 0, TokensLimit = 300_000 }, throttled: false);

        Assert.Null(limiter.RequestsPerMinute);
        Assert.Equal(300_000, limiter.TokensPerMinute);
    }

    [Fact]
    public async Task Observe_A429_PausesEveryRequestForTheRetryHint()
    {
        var clock = Clock();
        var limiter = new SyncLimiter(clock);

        limiter.Observe(new RateLimitInfo { RetryAfter = TimeSpan.FromMilliseconds(1500) }, throttled: true);
        var (admitted, waiting) = Acquire(limiter, 3);
        clock.Advance(TimeSpan.FromMilliseconds(1400));

        Assert.Equal(0, admitted);
        Assert.All(waiting, t => Assert.False(t.IsCompleted));
        clock.Advance(TimeSpan.FromMilliseconds(100));
        await Task.WhenAll(waiting).WaitAsync(Bound);
        Assert.Equal(1, limiter.Pauses);
    }

    [Fact]
    public async Task Observe_A429WithoutHint_WaitsForTheResetOfTheExhaustedBudget()
    {
        // Given a 429 whose headers say the token budget is exhausted for 6 s (the requests budget is not)
        var clock = Clock();
        var limiter = new SyncLimiter(clock);
        limiter.Observe(new RateLimitInfo { RequestsRemaining = 5, RequestsReset = TimeSpan.FromSeconds(1), TokensRemaining = 0, TokensReset = TimeSpan.FromSeconds(6) }, throttled: true);

        // When a request asks 5.9 s later
        clock.Advance(TimeSpan.FromSeconds(5.9));
        var waiting = limiter.AcquireAsync(1).AsTask();

        // Then it waits until the 6 s are over
        Assert.False(waiting.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(100));
        await waiting.WaitAsync(Bound);
    }
}
