using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using BatchPilot.Serialization;

namespace BatchPilot.Providers;

/// <summary>Helpers for reading and writing JSON lines.</summary>
internal static class JsonLines
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    /// <summary>Reads non-empty lines from a stream with their 1-based numbers.</summary>
    public static async IAsyncEnumerable<(int Number, string Line)> ReadAsync(Stream stream, string provider, string what, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        var n = 0;
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Http.HttpRequestException)
            {
                // A connection reset mid-body: the whole download is retried later; applying results is idempotent.
                throw new ProviderException(provider, $"{what} was interrupted after {n} lines ({ex.Message})", inner: ex);
            }

            if (line is null)
            {
                yield break;
            }

            n++;
            if (line.Length > 0 && !string.IsNullOrWhiteSpace(line))
            {
                yield return (n, line);
            }
        }
    }

    /// <summary>
    /// Serialises with a writer into a pooled buffer and returns the byte count. Writers of large parts (image bytes)
    /// see <see cref="Measuring"/> and count them with <see cref="AddMeasuredBytes"/> instead of writing them.
    /// </summary>
    public static int Measure(Action<Utf8JsonWriter> write)
    {
        var buffer = _measureBuffer ??= new ArrayBufferWriter<byte>(4096);
        var writer = _measureWriter ??= new Utf8JsonWriter(buffer, WriterOptions);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        _measuring = true;
        _measuredExtra = 0;
        try
        {
            write(writer);
            writer.Flush();
        }
        finally
        {
            _measuring = false;
        }

        return (int)Math.Min(int.MaxValue, buffer.WrittenCount + _measuredExtra);
    }

    /// <summary>True while <see cref="Measure"/> runs on this thread.</summary>
    public static bool Measuring => _measuring;

    /// <summary>Counts bytes a measured writer left out.</summary>
    public static void AddMeasuredBytes(long bytes) => _measuredExtra += bytes;

    [ThreadStatic]
    private static bool _measuring;

    [ThreadStatic]
    private static long _measuredExtra;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _measureBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _measureWriter;

    /// <summary>Creates a writer over a stream.</summary>
    public static Utf8JsonWriter Writer(Stream stream) => new(stream, WriterOptions);

    /// <summary>Creates a writer of JSON lines over a stream (one request or result per line).</summary>
    public static JsonLinesWriter LinesWriter(Stream stream) => new(stream, WriterOptions);

    public static string? Str(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static long? Long(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l) ? l : null;

    public static JsonElement? Obj(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;
}
