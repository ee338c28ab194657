namespace BatchPilot.Inputs.Internal;

/// <summary>
/// Splits a UTF-8 stream into lines without decoding it: the JSON reader works on the bytes. A line ends at LF; a CR
/// before it and a byte order mark at the start of the first line are dropped. Memory holds one line (and a buffer).
/// </summary>
internal sealed class LineReader
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];
    private static readonly System.Buffers.SearchValues<byte> BlankOrBom = System.Buffers.SearchValues.Create([(byte)' ', (byte)'\t', (byte)'\r', 0xEF, 0xBB, 0xBF]);

    private readonly Stream _stream;
    private readonly string _fileName;
    private readonly Func<long, bool, Errors.InputException>? _tooLong;
    private byte[] _buffer = new byte[Limits.BufferSize];
    private int _start;
    private int _end;
    private int _scanned;
    private bool _endOfStream;

    /// <param name="stream">The UTF-8 bytes.</param>
    /// <param name="fileName">The file as the user named it, for errors.</param>
    /// <param name="tooLong">The error for a line over the limit (line number, starts with '['); the table readers' by default.</param>
    public LineReader(Stream stream, string fileName, Func<long, bool, Errors.InputException>? tooLong = null)
    {
        _stream = stream;
        _fileName = fileName;
        _tooLong = tooLong;
    }

    /// <summary>The 1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Reads the next line; the span is valid until the next call.</summary>
    /// <exception cref="BatchPilot.Errors.InputException">A line is too long, or the file cannot be read.</exception>
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var found = _buffer.AsSpan(_scanned, _end - _scanned).IndexOf((byte)'\n');
            if (found >= 0)
            {
                var lineEnd = _scanned + found;
                line = Finish(_buffer.AsSpan(_start, lineEnd - _start));
                _start = _scanned = lineEnd + 1;
                return true;
            }

            _scanned = _end;
            if (_endOfStream)
            {
                if (_start < _end)
                {
                    line = Finish(_buffer.AsSpan(_start, _end - _start));
                    _start = _scanned = _end;
                    return true;
                }

                line = default;
                return false;
            }

            if (_end - _start >= Limits.MaxRecordBytes)
            {
                var pending = _buffer.AsSpan(_start, _end - _start);
                var first = pending.IndexOfAnyExcept(BlankOrBom);
                var bracket = first >= 0 && pending[first] == (byte)'[';
                throw _tooLong?.Invoke(LineNumber + 1, bracket) ?? InputErrors.LineTooLong(_fileName, LineNumber + 1, bracket);
            }

            Fill();
        }
    }

    private ReadOnlySpan<byte> Finish(ReadOnlySpan<byte> line)
    {
        LineNumber++;
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (LineNumber == 1 && line.StartsWith(Utf8Bom))
        {
            line = line[3..];
        }

        return line;
    }

    private void Fill()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _scanned -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int read;
        try
        {
            read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        }
        catch (IOException ex)
        {
            throw InputErrors.CannotRead(_fileName, ex);
        }

        if (read == 0)
        {
            _endOfStream = true;
        }
        else
        {
            _end += read;
        }
    }
}
