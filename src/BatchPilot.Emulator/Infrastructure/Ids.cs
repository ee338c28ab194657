namespace BatchPilot.Emulator.Infrastructure;

/// <summary>
/// Provider-shaped identifiers. Random ones for objects, hash-derived ones for output lines. They only need to be
/// unique, not unguessable, so the fast shared generator is used (a crypto draw per character cost more than the rest
/// of a sync request).
/// </summary>
internal static class Ids
{
    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary><c>file-</c> + 22 base62, as real OpenAI file ids.</summary>
    public static string NewFileId() => "file-" + RandomBase62(22);

    /// <summary><c>batch_</c> + 32 hex.</summary>
    public static string NewOpenAIBatchId() => "batch_" + RandomHex(32);

    /// <summary><c>msgbatch_01</c> + 22 base62.</summary>
    public static string NewAnthropicBatchId() => "msgbatch_01" + RandomBase62(22);

    /// <summary>OpenAI <c>x-request-id</c>: <c>req_</c> + 32 hex.</summary>
    public static string NewOpenAIRequestId() => "req_" + RandomHex(32);

    /// <summary>Anthropic <c>request-id</c>: <c>req_011C</c> + 20 base62.</summary>
    public static string NewAnthropicRequestId() => "req_011C" + RandomBase62(20);

    public static string NewChatCompletionId() => "chatcmpl-" + RandomBase62(29);

    public static string NewResponseId() => "resp_" + RandomHex(50);

    public static string NewResponseMessageId() => "msg_" + RandomHex(50);

    public static string NewMessageId() => "msg_01" + RandomBase62(22);

    public static string RandomHex(int length)
    {
        Span<byte> bytes = stackalloc byte[(length + 1) / 2];
        Random.Shared.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes)[..length];
    }

    public static string RandomBase62(int length)
    {
        return string.Create(length, 0, static (span, _) => Random.Shared.GetItems(Base62.AsSpan(), span));
    }

    /// <summary>A deterministic id from a 64-bit seed: the same batch and custom id always give the same line id.</summary>
    public static string DerivedBase62(string prefix, ulong seed, int length)
    {
        return string.Create(prefix.Length + length, (prefix, seed), static (span, state) =>
        {
            state.prefix.AsSpan().CopyTo(span);
            var x = state.seed;
            for (var i = state.prefix.Length; i < span.Length; i++)
            {
                x = StableHash.Mix(x + 0x9E3779B97F4A7C15UL);
                span[i] = Base62[(int)(x % 62)];
            }
        });
    }

    public static string DerivedHex(string prefix, ulong seed, int length)
    {
        return string.Create(prefix.Length + length, (prefix, seed), static (span, state) =>
        {
            state.prefix.AsSpan().CopyTo(span);
            var x = state.seed;
            for (var i = state.prefix.Length; i < span.Length; i++)
            {
                x = StableHash.Mix(x + 0x9E3779B97F4A7C15UL);
                span[i] = "0123456789abcdef"[(int)(x & 15)];
            }
        });
    }
}

/// <summary>A stable 64-bit hash (FNV-1a over UTF-16 code units, then a SplitMix64 finalizer). Never changes across runs.</summary>
internal static class StableHash
{
    public static ulong Of(string value, ulong seed = 0)
    {
        var h = 14695981039346656037UL ^ Mix(seed);
        foreach (var c in value)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        return Mix(h);
    }

    public static ulong Combine(ulong a, ulong b) => Mix(a ^ (b + 0x9E3779B97F4A7C15UL + (a << 6) + (a >> 2)));

    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Maps a hash to [0, 1).</summary>
    public static double ToUnit(ulong h) => (h >> 11) * (1.0 / (1UL << 53));
}
