using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace BatchPilot.Emulator;

/// <summary>
/// Number of calls per endpoint, keyed by method and route template, e.g. <c>POST /v1/batches</c> or
/// <c>GET /v1/batches/{id}</c>. Calls that match no route are keyed by method and raw path.
/// Faulted calls count too. Thread-safe.
/// </summary>
public sealed class EmulatorCounters
{
    // One box per endpoint, incremented without a lock: every sync request of a run hits the same counter.
    private readonly ConcurrentDictionary<string, StrongBox<long>> _counts = new(StringComparer.Ordinal);

    /// <summary>Calls so far to <paramref name="endpoint"/> (0 when never called).</summary>
    public long this[string endpoint] => _counts.TryGetValue(endpoint, out var n) ? Interlocked.Read(ref n.Value) : 0;

    /// <summary>Total calls over all endpoints.</summary>
    public long Total => _counts.Values.Sum(n => Interlocked.Read(ref n.Value));

    /// <summary>A copy of all counters.</summary>
    public IReadOnlyDictionary<string, long> Snapshot() => _counts.ToDictionary(kv => kv.Key, kv => Interlocked.Read(ref kv.Value.Value), StringComparer.Ordinal);

    /// <summary>Sets every counter back to zero.</summary>
    public void Reset() => _counts.Clear();

    internal void Increment(string endpoint) => Interlocked.Increment(ref _counts.GetOrAdd(endpoint, static _ => new StrongBox<long>()).Value);
}
