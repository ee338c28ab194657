using System.Text.Json;
using BatchPilot.Inputs.Internal;

namespace BatchPilot.Inputs.BatchFiles;

/// <summary>Hands out the requests of a batch file one at a time, as the bytes of each request's JSON text.</summary>
internal interface IRequestSource
{
    /// <summary>The next request and the 1-based line it starts on; the span is valid until the next call.</summary>
    /// <exception cref="Errors.InputException">The file cannot be read, or its structure is broken (fatal).</exception>
    bool TryNext(out ReadOnlySpan<byte> request, out long line);
}

/// <summary>A JSONL file: one request per line, blank lines passed over.</summary>
internal sealed class JsonlRequests(Stream stream, string fileName) : IRequestSource
{
    private readonly LineReader _lines = new(stream, fileName, (line, _) => BatchFileErrors.LineTooLong(fileName, line));

    public bool TryNext(out ReadOnlySpan<byte> request, out long line)
    {
        while (_lines.TryReadLine(out var raw))
        {
            if (!raw.Trim(" \t\r"u8).IsEmpty)
            {
                request = raw;
                line = _lines.LineNumber;
                return true;
            }
        }

        request = default;
        line = 0;
        return false;
    }
}

/// <summary>
/// An Anthropic create body, <c>{"requests": [...]}</c>, possibly pretty-printed over many lines, read in chunks with
/// <see cref="Utf8JsonReader"/>: memory holds one request (and a buffer), whatever the file's size. Each element of
/// <c>requests</c> is handed out with the line it starts on.
/// </summary>
internal sealed class RequestsBody(Stream stream, string fileName) : IRequestSource
{
    private enum Phase
    {
        Start,
        Keys,
        ArrayExpected,
        Elements,
        Done,
    }

    private byte[] _buffer = new byte[Limits.BufferSize];
    private int _start;
    private int _end;
    private bool _endOfStream;
    private bool _first = true;
    private JsonReaderState _state = new(RequestParser.Options);
    private Phase _phase;
    private bool _sawRequests;
    private int _lineScan;
    private long _newlines;

    public bool TryNext(out ReadOnlySpan<byte> request, out long line)
    {
        while (true)
        {
            if (TryStep(out var begin, out var end, out var done))
            {
                request = _buffer.AsSpan(begin, end - begin);
                line = LineAt(begin);
                return true;
            }

            if (done)
            {
                request = default;
                line = 0;
                return false;
            }

            Fill();
        }
    }

    /// <summary>Reads tokens from the buffer: true with an element's range, or false when it needs more bytes (or is done).</summary>
    private bool TryStep(out int begin, out int end, out bool done)
    {
        begin = end = 0;
        done = false;
        var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _endOfStream, _state);
        try
        {
            while (true)
            {
                var saved = reader.CurrentState;
                var consumed = (int)reader.BytesConsumed;
                if (!reader.Read())
                {
                    if (_endOfStream)
                    {
                        if (_phase != Phase.Done)
                        {
                            throw BatchFileErrors.BodyEndsEarly(fileName);
                        }

                        done = true;
                    }

                    _state = saved;
                    _start += consumed;
                    return false;
                }

                switch (_phase)
                {
                    case Phase.Start when reader.TokenType == JsonTokenType.StartObject:
                        _phase = Phase.Keys;
                        break;
                    case Phase.Start:
                        throw BatchFileErrors.BodyNotAnObject(fileName, RequestParser.Describe(reader.TokenType));
                    case Phase.Keys when reader.TokenType == JsonTokenType.PropertyName:
                        var key = reader.GetString()!;
                        if (key != "requests" || _sawRequests)
                        {
                            throw BatchFileErrors.BodyKey(fileName, LineAt(_start + (int)reader.TokenStartIndex), key, _sawRequests);
                        }

                        _sawRequests = true;
                        _phase = Phase.ArrayExpected;
                        break;
                    case Phase.Keys:
                        _phase = Phase.Done;
                        break;
                    case Phase.ArrayExpected when reader.TokenType == JsonTokenType.StartArray:
                        _phase = Phase.Elements;
                        break;
                    case Phase.ArrayExpected:
                        throw BatchFileErrors.RequestsNotAnArray(fileName, LineAt(_start + (int)reader.TokenStartIndex), RequestParser.Describe(reader.TokenType));
                    case Phase.Elements when reader.TokenType == JsonTokenType.EndArray:
                        _phase = Phase.Keys;
                        break;
                    case Phase.Elements:
                        var tokenStart = (int)reader.TokenStartIndex;
                        if (!reader.TrySkip())
                        {
                            // The element goes on past the buffer: read it again once more bytes are in.
                            _state = saved;
                            _start += consumed;
                            return false;
                        }

                        begin = _start + tokenStart;
                        end = _start + (int)reader.BytesConsumed;
                        _state = reader.CurrentState;
                        _start = end;
                        return true;
                    default:
                        throw BatchFileErrors.BodyEndsEarly(fileName);
                }
            }
        }
        catch (JsonException ex) when (_endOfStream && ex.Message.Contains("depth to be zero", StringComparison.Ordinal))
        {
            throw BatchFileErrors.BodyEndsEarly(fileName);
        }
        catch (JsonException ex)
        {
            throw BatchFileErrors.BodyInvalidJson(fileName, ex);
        }
    }

    /// <summary>The 1-based line of a buffer position; positions are asked for in increasing order.</summary>
    private long LineAt(int position)
    {
        _newlines += _buffer.AsSpan(_lineScan, position - _lineScan).Count((byte)'\n');
        _lineScan = position;
        return _newlines + 1;
    }

    private void Fill()
    {
        if (_start > 0)
        {
            LineAt(Math.Max(_start, _lineScan));
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _lineScan -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= Limits.MaxRecordBytes)
            {
                throw BatchFileErrors.RequestTooLongToRead(fileName, LineAt(_lineScan));
            }

            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int read;
        try
        {
            read = stream.Read(_buffer, _end, _buffer.Length - _end);
        }
        catch (IOException ex)
        {
            throw InputErrors.CannotRead(fileName, ex);
        }

        if (read == 0)
        {
            _endOfStream = true;
        }

        _end += read;
        if (_first && _end >= 3 && _buffer.AsSpan(0, 3).SequenceEqual((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            _start = 3;
            _lineScan = 3;
        }

        _first &= _end < 3 && !_endOfStream;
    }
}
