using System.Collections.Concurrent;
using BatchPilot.Web.Data;

namespace BatchPilot.Web.Hosting;

/// <summary>
/// Rendered responses of the pages and API routes computed from the job index alone (the jobs page, its live region, the
/// job list), kept while the index shows the same thing: an entry is valid for one <see cref="JobIndex.Snapshot.Version"/>,
/// one <see cref="JobIndex.EstimatesVersion"/> and a short time bucket (the ETAs shown move with the clock). Concurrent
/// requests for a missing entry render it once.
/// </summary>
internal sealed class ResponseCache(JobIndex index, TimeProvider time)
{
    /// <summary>How long an entry may be served while nothing changes in the store (ETAs are this stale at most).</summary>
    public static readonly TimeSpan TimeBucket = TimeSpan.FromSeconds(2);

    /// <summary>Entries kept at most; past that the cache starts again empty (requests with many distinct queries).</summary>
    private const int MaxEntries = 4096;

    /// <summary>Bytes of bodies kept at most (about 750 jobs pages); past that the cache starts again empty.</summary>
    private const long MaxBytes = 32L * 1024 * 1024;

    private long _bytes;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private sealed record Entry(long Version, long Estimates, long Bucket, Lazy<byte[]> Body);

    /// <summary>The cached body for <paramref name="key"/>, rendered by <paramref name="render"/> when missing or outdated.</summary>
    public byte[] GetOrRender(string key, Func<byte[]> render)
    {
        var version = index.Current.Version;
        var estimates = index.EstimatesVersion;
        var bucket = time.GetUtcNow().UtcTicks / TimeBucket.Ticks;
        while (true)
        {
            if (_entries.TryGetValue(key, out var entry))
            {
                if (entry.Version == version && entry.Estimates == estimates && entry.Bucket == bucket)
                {
                    return Value(key, entry);
                }

                var replacement = new Entry(version, estimates, bucket, new Lazy<byte[]>(render, LazyThreadSafetyMode.ExecutionAndPublication));
                if (_entries.TryUpdate(key, replacement, entry))
                {
                    if (entry.Body.IsValueCreated)
                    {
                        Interlocked.Add(ref _bytes, -entry.Body.Value.Length);
                    }

                    return Counted(Value(key, replacement));
                }

                continue;
            }

            if (_entries.Count >= MaxEntries || Interlocked.Read(ref _bytes) > MaxBytes)
            {
                _entries.Clear();
                Interlocked.Exchange(ref _bytes, 0);
            }

            var fresh = new Entry(version, estimates, bucket, new Lazy<byte[]>(render, LazyThreadSafetyMode.ExecutionAndPublication));
            if (_entries.TryAdd(key, fresh))
            {
                return Counted(Value(key, fresh));
            }
        }
    }

    private byte[] Counted(byte[] body)
    {
        Interlocked.Add(ref _bytes, body.Length);
        return body;
    }

    /// <summary>The entry's body; a render that failed is forgotten (the next request tries again) and its exception rethrown.</summary>
    private byte[] Value(string key, Entry entry)
    {
        try
        {
            return entry.Body.Value;
        }
        catch
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            throw;
        }
    }
}
