using System.Collections.Concurrent;

namespace BatchPilot.Emulator;

/// <summary>
/// Number of calls per endpoint, keyed by method and route template, e.g. <c>POST /v1/batches</c> or
/// <c>GET /v1/batches/{id}</c>. Calls that match no route are keyed by method and raw path.
/// Faulted calls count too. Thread-safe.
/// </summary>
public sealed class EmulatorCounters
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    /// <summary>Calls so far to <paramref name="endpoint"/> (0 when never called).</summary>
    public long this[string endpoint] => _counts.TryGetValue(endpoint, out var n) ? n : 0;

    /// <summary>Total calls over all endpoints.</summary>
    public long Total => _counts.Values.Sum();

    /// <summary>A copy of all counters.</summary>
    public IReadOnlyDictionary<string, long> Snapshot() => new Dictionary<string, long>(_counts, StringComparer.Ordinal);

    /// <summary>Sets every counter back to zero.</summary>
    public void Reset() => _counts.Clear();

    internal void Increment(string endpoint) => _counts.AddOrUpdate(endpoint, 1, static (_, n) => n + 1);
}
