using System.Text;

namespace BatchPilot.Exports;

/// <summary>A minimal RFC 4180 writer: fields are quoted when they hold the delimiter, a quote, CR/LF or edge spaces.</summary>
internal sealed class CsvOut : IAsyncDisposable
{
    private readonly StreamWriter _writer;
    private readonly char _delimiter;
    private bool _first = true;

    public CsvOut(Stream stream, char delimiter = ',')
    {
        _writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        _delimiter = delimiter;
    }

    public void Field(string? value)
    {
        if (!_first)
        {
            _writer.Write(_delimiter);
        }

        _first = false;
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (NeedsQuotes(value))
        {
            _writer.Write('"');
            _writer.Write(value.Replace("\"", "\"\"", StringComparison.Ordinal));
            _writer.Write('"');
        }
        else
        {
            _writer.Write(value);
        }
    }

    private bool NeedsQuotes(string value)
    {
        if (value[0] == ' ' || value[^1] == ' ')
        {
            return true;
        }

        foreach (var c in value)
        {
            if (c == _delimiter || c == '"' || c == '\n' || c == '\r')
            {
                return true;
            }
        }

        return false;
    }

    public void EndRecord()
    {
        _writer.Write('\n');
        _first = true;
    }

    public async ValueTask DisposeAsync()
    {
        await _writer.FlushAsync().ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
    }
}
