using System.Buffers;
using System.Text.Json;

namespace BatchPilot.Serialization;

/// <summary>
/// Writes JSON lines (one compact JSON value per line, each ended by <c>\n</c>) to a stream through one buffer that
/// goes to the stream every 64 KB. A <see cref="Utf8JsonWriter"/> over the stream itself must be flushed after each
/// value to put the line break between values, and its flush flushes the stream too: one write system call per line.
/// </summary>
/// <remarks>Not thread-safe. The stream is written to, never flushed or closed.</remarks>
public sealed class JsonLinesWriter : IAsyncDisposable
{
    private const int WriteOutAt = 1 << 16;

    private readonly Stream _stream;
    private readonly ArrayBufferWriter<byte> _buffer = new(WriteOutAt + (WriteOutAt / 2));

    /// <summary>Creates a writer of lines into <paramref name="stream"/>.</summary>
    /// <param name="stream">Where the lines go.</param>
    /// <param name="options">The JSON writer's options (indentation must be off: a value is one line).</param>
    public JsonLinesWriter(Stream stream, JsonWriterOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        Writer = new Utf8JsonWriter(_buffer, options);
    }

    /// <summary>The writer of the current line's value: write one JSON value, then call <see cref="EndLineAsync"/>.</summary>
    public Utf8JsonWriter Writer { get; }

    /// <summary>Ends the current line, and writes the buffer to the stream once it holds 64 KB or more.</summary>
    /// <param name="cancellationToken">Cancels the write to the stream.</param>
    public ValueTask EndLineAsync(CancellationToken cancellationToken = default)
    {
        Writer.Flush();
        Writer.Reset();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        return _buffer.WrittenCount >= WriteOutAt ? WriteOutAsync(cancellationToken) : ValueTask.CompletedTask;
    }

    /// <summary>Writes everything written so far to the stream (without flushing the stream).</summary>
    /// <param name="cancellationToken">Cancels the write to the stream.</param>
    public async ValueTask WriteOutAsync(CancellationToken cancellationToken = default)
    {
        Writer.Flush();
        if (_buffer.WrittenCount > 0)
        {
            await _stream.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            _buffer.ResetWrittenCount();
        }
    }

    /// <summary>Writes what is left to the stream and releases the JSON writer.</summary>
    public async ValueTask DisposeAsync()
    {
        await WriteOutAsync().ConfigureAwait(false);
        await Writer.DisposeAsync().ConfigureAwait(false);
    }
}
