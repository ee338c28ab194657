using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Storage;

namespace BatchPilot.Running;

/// <summary>How a run uses the response cache.</summary>
public enum CacheMode
{
    /// <summary>Identical requests are answered from the cache; new answers are stored (the default).</summary>
    ReadWrite,

    /// <summary>Nothing is answered from the cache, but new answers are stored, refreshing it (<c>--no-cache</c>).</summary>
    WriteOnly,

    /// <summary>The cache is neither read nor written (<c>cache.enabled: false</c> in config/user.yaml).</summary>
    Off,
}

/// <summary>
/// The content-addressed response cache: an identical request (same provider, endpoint, model, parameters and rendered
/// messages) is answered from the store instead of being sent again, across jobs and modes (a batch answer serves a
/// sync request and the other way round). Only succeeded answers are stored: those of a batch in one transaction when it
/// is collected (before it is marked so, so a crash in between repeats it), and applying cache hits is one transaction.
/// </summary>
public static partial class ResponseCache
{
    /// <summary>Version of the canonical form; changing what the key covers changes this, so old entries simply miss.</summary>
    public const string KeyVersion = "batchpilot-cache/1";

    /// <summary>
    /// The cache key of a request: SHA-256 (lower-case hex) over the key version, the provider, the endpoint (base URL, or
    /// <c>emulator</c>) and the <b>whole</b> <see cref="LlmRequest"/> serialized as JSON with every public property
    /// (source-generated, so a property added to the request later is part of the key without anyone remembering to add
    /// it; null properties are left out, so adding an optional property keeps the existing keys). The batch/sync mode is
    /// not part of the key: both send the same body. A local image file (named in the request by its path) adds the
    /// SHA-256 of its bytes.
    /// </summary>
    /// <param name="provider">The provider name.</param>
    /// <param name="endpoint">Where the provider is reached (a base URL, or <c>emulator</c>).</param>
    /// <param name="request">The request exactly as the job would send it.</param>
    public static string Key(string provider, string endpoint, LlmRequest request)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(request);
        // Planning computes one key per item: the canonical form is written into a per-thread buffer and hashed in place.
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var head = KeyVersion + "\n" + provider.Trim().ToLowerInvariant() + "\n" + endpoint.Trim().TrimEnd('/') + "\n";
        buffer.Advance(Encoding.UTF8.GetBytes(head, buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(head.Length))));
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        JsonSerializer.Serialize(writer, request, CacheKeyJson.Default.LlmRequest);
        writer.Flush();

        // A local image is named by its path: the key covers its bytes, so an edited file is never answered from the cache.
        foreach (var image in request.Images)
        {
            if (image.Kind == ImageSourceKind.File)
            {
                var digest = "\nimage:" + FileDigest(image.Value);
                buffer.Advance(Encoding.UTF8.GetBytes(digest, buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(digest.Length))));
            }
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(buffer.WrittenSpan, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>SHA-256 of a file's bytes, or <c>unreadable</c> (such an item is not sent: it fails with its image problem).</summary>
    private static string FileDigest(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            return Convert.ToHexStringLower(SHA256.HashData(file));
        }
        catch (IOException)
        {
            return "unreadable";
        }
        catch (UnauthorizedAccessException)
        {
            return "unreadable";
        }
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>The cache key of a request of a job (its provider and endpoint).</summary>
    public static string Key(JobSpec spec, LlmRequest request)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Key(spec.Provider, spec.Endpoint, request);
    }

    /// <summary>The canonical JSON the key hashes (for tests and diagnostics).</summary>
    public static string CanonicalJson(LlmRequest request) => JsonSerializer.Serialize(request, CacheKeyJson.Default.LlmRequest);

    /// <summary>
    /// Answers the items whose key is in the cache, in one store transaction (a kill before it loses nothing, after it
    /// the items are answered). Returns, per item, whether it was answered from the cache (and must not be sent).
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="job">The job.</param>
    /// <param name="items">Pending items.</param>
    /// <param name="keys">Their cache keys, aligned with <paramref name="items"/>.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    public static async Task<bool[]> AnswerAsync(IJobStore store, JobRecord job, IReadOnlyList<ItemRecord> items, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(keys);
        var answered = new bool[items.Count];
        var found = await store.FindCachedAsync(keys.ToHashSet(StringComparer.Ordinal), cancellationToken).ConfigureAwait(false);
        if (found.Count == 0)
        {
            return answered;
        }

        var hits = new List<CacheHit>();
        for (var i = 0; i < items.Count; i++)
        {
            if (found.TryGetValue(keys[i], out var answer))
            {
                hits.Add(new CacheHit(items[i].Seq, keys[i], answer.Text));
                answered[i] = true;
            }
        }

        await store.ApplyCacheHitsAsync(job.Id, hits, cancellationToken).ConfigureAwait(false);
        return answered;
    }

    /// <summary>The JSON of the canonical form: every public property of the request, nulls left out.</summary>
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
    [JsonSerializable(typeof(LlmRequest))]
    internal sealed partial class CacheKeyJson : JsonSerializerContext;
}
