using System.Buffers;

namespace BatchPilot.Emulator.Infrastructure;

/// <summary>
/// Reads a JSONL stream line by line as UTF-8 bytes without decoding or copying lines to strings.
/// A returned line is valid until the next call. Memory: one buffer, grown only for longer lines.
/// </summary>
internal sealed class JsonlReader(Stream stream) : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
    private int _start;
    private int _end;
    private bool _eof;

    /// <summary>1-based number of the line last returned.</summary>
    public int LineNumber { get; private set; }

    /// <summary>Next line without its <c>\n</c> (and <c>\r</c>); false at the end.</summary>
    public bool TryReadLine(out ReadOnlyMemory<byte> line)
    {
        while (true)
        {
            var span = _buffer.AsMemory(_start, _end - _start);
            var nl = span.Span.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                line = Trim(span[..nl]);
                _start += nl + 1;
                LineNumber++;
                return true;
            }
            if (_eof)
            {
                if (span.Length > 0)
                {
                    line = Trim(span);
                    _start = _end;
                    LineNumber++;
                    return true;
                }
                line = default;
                return false;
            }
            Fill();
        }
    }

    private static ReadOnlyMemory<byte> Trim(ReadOnlyMemory<byte> line) =>
        line.Length > 0 && line.Span[^1] == (byte)'\r' ? line[..^1] : line;

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        var n = stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0)
        {
            _eof = true;
        }
        _end += n;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}

/// <summary>Writes JSON lines to a stream with one reusable <see cref="System.Text.Json.Utf8JsonWriter"/>.</summary>
internal sealed class JsonlWriter : IDisposable
{
    private readonly Stream _stream;

    public JsonlWriter(string path)
    {
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        Writer = new System.Text.Json.Utf8JsonWriter(_stream, Wire.WriterOptions);
    }

    public System.Text.Json.Utf8JsonWriter Writer { get; }

    public long Lines { get; private set; }

    /// <summary>Ends the current line (call after writing exactly one JSON value).</summary>
    public void EndLine()
    {
        Writer.Flush();
        _stream.WriteByte((byte)'\n');
        Writer.Reset(_stream);
        Lines++;
    }

    /// <summary>Copies raw bytes as one line (used by malformed-line faults).</summary>
    public void WriteRawLine(ReadOnlySpan<byte> bytes)
    {
        Writer.Flush();
        _stream.Write(bytes);
        _stream.WriteByte((byte)'\n');
        Writer.Reset(_stream);
        Lines++;
    }

    public long Length
    {
        get
        {
            Writer.Flush();
            return _stream.Length;
        }
    }

    public void Dispose()
    {
        Writer.Dispose();
        _stream.Dispose();
    }
}
