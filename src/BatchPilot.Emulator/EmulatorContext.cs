using BatchPilot.Emulator.RateLimiting;
using BatchPilot.Emulator.Storage;

namespace BatchPilot.Emulator;

/// <summary>What every handler needs: options, store, clock, current faults, counters.</summary>
internal sealed class EmulatorContext(EmulatorOptions options, EmulatorStore store, EmulatorCounters counters)
{
    private FaultScenario _faults = options.Faults ?? FaultScenario.None;

    public EmulatorOptions Options { get; } = options;

    public EmulatorStore Store { get; } = store;

    public EmulatorCounters Counters { get; } = counters;

    public TimeProvider Time { get; } = options.TimeProvider ?? TimeProvider.System;

    public SyncRateLimiter RateLimiter { get; } = new(options.RequestsPerMinute, options.TokensPerMinute, options.OutputTokensPerMinute);

    public FaultScenario Faults
    {
        get => Volatile.Read(ref _faults);
        set => Volatile.Write(ref _faults, value ?? FaultScenario.None);
    }

    public DateTimeOffset Now => Time.GetUtcNow();

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>How long <c>cancelling</c>/<c>canceling</c> lasts: a tenth of the batch duration, at most one second.</summary>
    public static long CancelDelayMs(long durationMs) => Math.Min(durationMs / 10, 1000);
}
