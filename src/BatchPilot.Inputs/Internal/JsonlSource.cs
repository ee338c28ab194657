using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using BatchPilot.Errors;

namespace BatchPilot.Inputs.Internal;

/// <summary>
/// A JSON Lines table: one object per line, its keys the columns. The columns are the keys of all objects in the order
/// they first appear, so opening makes a quick first pass over the file that reads only the keys. Values: strings as
/// they are, numbers and booleans as their JSON text, <c>null</c> and absent keys as <see langword="null"/>, nested
/// objects and arrays as their compact JSON text. Blank lines are passed over.
/// </summary>
internal sealed class JsonlSource : ITableSource
{
    private static readonly byte[] JsonBlank = [(byte)' ', (byte)'\t', (byte)'\r'];

    private readonly InputFile _file;
    private readonly Encoding? _encoding;
    private readonly string[] _columns;
    private readonly KeyIndex _keys;
    private bool _read;

    private JsonlSource(InputFile file, Encoding? encoding, string[] columns, KeyIndex keys)
    {
        _file = file;
        _encoding = encoding;
        _columns = columns;
        _keys = keys;
    }

    public IReadOnlyList<string> Columns => _columns;

    public char? Separator => null;

    private string FileName => _file.DisplayName;

    /// <summary>Opens the JSONL table of <paramref name="file"/> and collects its columns.</summary>
    /// <exception cref="InputException">The file is empty, or no line holds an object with a key.</exception>
    public static JsonlSource Open(InputFile file, Encoding? encoding)
    {
        var sniff = file.Sniff(encoding, jsonl: true);
        var keys = new KeyIndex();
        var sawBadLine = false;
        using (var stream = OpenText(file, sniff.Encoding))
        {
            var lines = new LineReader(stream, file.DisplayName);
            try
            {
                while (lines.TryReadLine(out var line))
                {
                    sawBadLine |= !CollectKeys(Trim(line), keys);
                }
            }
            catch (InputException)
            {
                // A line too long to read: the second pass reports it at its line.
                sawBadLine = true;
            }
        }

        if (keys.Count == 0 && !sawBadLine)
        {
            throw InputErrors.NoKeys(file.DisplayName);
        }

        return new JsonlSource(file, sniff.Encoding, [.. keys.Names], keys);
    }

    public IEnumerable<TableRow> ReadRows(CancellationToken cancellationToken)
    {
        if (_read)
        {
            yield break;
        }

        _read = true;
        using var stream = OpenText(_file, _encoding);
        var lines = new LineReader(stream, FileName);
        var parser = new LineParser(this);
        long index = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var values = new string?[_columns.Length];
            if (!parser.TryReadRow(lines, values))
            {
                yield break;
            }

            yield return new TableRow(++index, lines.LineNumber, values);
        }
    }

    public void Dispose()
    {
        // The file belongs to the TableReader.
    }

    /// <summary>The file as UTF-8 bytes from its start: as it is, or transcoded from the encoding the user named.</summary>
    private static Stream OpenText(InputFile file, Encoding? encoding)
    {
        file.Stream.Position = 0;
        return encoding is null
            ? new NonClosingStream(file.Stream)
            : Encoding.CreateTranscodingStream(file.Stream, encoding, Encoding.UTF8, leaveOpen: true);
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> line) => line.Trim(JsonBlank);

    /// <summary>Adds the keys of one line to <paramref name="keys"/>; false when the line is not a readable object.</summary>
    private static bool CollectKeys(ReadOnlySpan<byte> line, KeyIndex keys)
    {
        if (line.IsEmpty)
        {
            return true;
        }

        var reader = new Utf8JsonReader(line);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            var position = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (keys.Find(ref reader, position) < 0)
                {
                    keys.Add(reader.GetString()!, position);
                }

                position++;
                reader.Read();
                reader.Skip();
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The second pass: turns lines into rows, reporting the first problem at its line.</summary>
    internal sealed class LineParser(JsonlSource source)
    {
        private readonly int[] _seen = new int[source._columns.Length];
        private byte[] _compact = new byte[256];
        private int _stamp;

        private string FileName => source.FileName;

        public bool TryReadRow(LineReader lines, string?[] values)
        {
            while (lines.TryReadLine(out var raw))
            {
                if (Trim(raw).IsEmpty)
                {
                    continue;
                }

                if (!Utf8.IsValid(raw))
                {
                    throw InputErrors.NotUtf8(FileName, lines.LineNumber, field: null, TextChecks.SuggestEncoding(raw));
                }

                // Parsed untrimmed, so that error positions count from the start of the line.
                Parse(raw, lines.LineNumber, values);
                return true;
            }

            return false;
        }

        private void Parse(ReadOnlySpan<byte> line, long lineNumber, string?[] values)
        {
            var reader = new Utf8JsonReader(line);
            try
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    var kind = Describe(reader.TokenType);

                    // "[1, 2]" is an array line; "[" alone starts a pretty-printed JSON file, which is not valid here.
                    reader.Skip();
                    reader.Read();
                    throw InputErrors.NotAnObject(FileName, lineNumber, kind);
                }

                _stamp++;
                var position = 0;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var column = source._keys.Find(ref reader, position++);
                    if (column < 0)
                    {
                        throw InputErrors.ChangedWhileReading(FileName, lineNumber);
                    }

                    if (_seen[column] == _stamp)
                    {
                        throw InputErrors.DuplicateKey(FileName, lineNumber, source._columns[column]);
                    }

                    _seen[column] = _stamp;
                    reader.Read();
                    values[column] = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        JsonTokenType.True => "true",
                        JsonTokenType.False => "false",
                        JsonTokenType.Null => null,
                        _ => Compact(line, ref reader),
                    };
                }

                // Anything after the object other than blanks makes Read throw.
                reader.Read();
            }
            catch (JsonException ex)
            {
                var trimmed = Trim(line);
                var text = trimmed.Length <= 2 ? Encoding.UTF8.GetString(trimmed) : null;
                throw InputErrors.InvalidJson(FileName, lineNumber, Detail(ex, line), ex, text);
            }
            catch (InvalidOperationException ex)
            {
                throw InputErrors.InvalidJson(FileName, lineNumber, "a string holds an invalid \\u escape", ex, trimmedLine: null);
            }
        }

        /// <summary>The nested value the reader is on, as compact JSON text: its bytes without the blanks between tokens.</summary>
        private string Compact(ReadOnlySpan<byte> line, ref Utf8JsonReader reader)
        {
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            var value = line[start..(int)reader.BytesConsumed];
            if (_compact.Length < value.Length)
            {
                _compact = new byte[Math.Max(value.Length, _compact.Length * 2)];
            }

            var length = 0;
            var inString = false;
            for (var i = 0; i < value.Length; i++)
            {
                var b = value[i];
                if (inString)
                {
                    if (b == (byte)'\\')
                    {
                        _compact[length++] = b;
                        b = value[++i];
                    }
                    else if (b == (byte)'"')
                    {
                        inString = false;
                    }
                }
                else if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
                {
                    continue;
                }
                else if (b == (byte)'"')
                {
                    inString = true;
                }

                _compact[length++] = b;
            }

            return Encoding.UTF8.GetString(_compact, 0, length);
        }

        private static string Describe(JsonTokenType token) => token switch
        {
            JsonTokenType.StartArray => "a JSON array",
            JsonTokenType.String => "a JSON string",
            JsonTokenType.Number => "a JSON number",
            JsonTokenType.True or JsonTokenType.False => "a JSON boolean",
            JsonTokenType.Null => "JSON null",
            _ => "not an object",
        };

        /// <summary>
        /// The reason of a JSON error in words for the user: System.Text.Json's messages are written for programmers
        /// (some say to change the reader options). Known ones are reworded; others keep their first sentence.
        /// </summary>
        internal static string Detail(JsonException ex, ReadOnlySpan<byte> line)
        {
            var message = ex.Message;
            var reason = ex.BytePositionInLine >= Trim(line).Length + (line.Length - line.TrimStart(JsonBlank).Length) && !message.Contains("end of string", StringComparison.Ordinal)
                ? (Trim(line).StartsWith((byte)'[') ? "the line ends before the array is closed" : "the line ends before the object is closed")
                : JsonReasons.FirstOrDefault(pair => message.Contains(pair.Key, StringComparison.Ordinal)).Value;
            if (reason is null)
            {
                var cut = message.IndexOfAny(['.', '\n']);
                reason = (cut > 0 ? message[..cut] : message).Trim();
                if (reason.Length > 1 && char.IsUpper(reason[0]) && char.IsLower(reason[1]))
                {
                    reason = char.ToLowerInvariant(reason[0]) + reason[1..];
                }
            }

            if (ex.BytePositionInLine is not { } position)
            {
                return reason;
            }

            // The reader counts bytes; a person counts characters.
            var character = Encoding.UTF8.GetCharCount(line[..(int)Math.Min(position, line.Length)]) + 1;
            return $"{reason} (at character {character})";
        }
    }

    /// <summary>Parts of System.Text.Json's error messages, and what they mean to someone who wrote the file.</summary>
    private static readonly KeyValuePair<string, string>[] JsonReasons =
    [
        new("trailing comma", "a comma before a closing } or ] has nothing after it"),
        new("depth to be zero", "an object or array is not closed on this line"),
        new("after a single JSON value", "there is more text after the object"),
        new("start of a property name", "a key must be a string in double quotes"),
        new("after a property name", "a ':' is missing after a key"),
        new("after a value", "a ',' or a closing } or ] is missing after a value"),
        new("without a matching open", "a closing } or ] has no matching opening one"),
        new("escapable character", "a string holds an invalid escape (a backslash must be written \\\\)"),
        new("within a JSON string", "a string holds a raw tab, line break or other control character; write it as \\t or \\n"),
        new("end of string", "a string is not closed"),
        new("invalid start of a value", "a value must be a string in double quotes, a number, true, false, null, an object or an array"),
        new("end of data", "the line ends before the object is closed"),
        new("leading zero", "a number starts with a zero"),
        new("of a number", "a number is malformed"),
        new("within a number", "a number is malformed"),
        new("literal", "a value is misspelled (true, false and null are lowercase)"),
    ];

    /// <summary>The column of each key, looked up from the UTF-8 bytes of a property name without allocating.</summary>
    private sealed class KeyIndex
    {
        private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
        private readonly List<byte[]> _utf8 = [];
        private readonly List<int> _lastAtPosition = [];

        public KeyIndex() => _bySpan = _byName.GetAlternateLookup<ReadOnlySpan<char>>();

        public int Count => _byName.Count;

        public IEnumerable<string> Names => _byName.OrderBy(pair => pair.Value).Select(pair => pair.Key);

        public void Add(string name, int position)
        {
            var column = _byName.Count;
            _byName.Add(name, column);
            _utf8.Add(Encoding.UTF8.GetBytes(name));
            Remember(position, column);
        }

        /// <summary>The column of the property name the reader is on, or -1. Rows usually list keys in the same order,
        /// so the column found at the same position in the previous object is tried first.</summary>
        public int Find(ref Utf8JsonReader reader, int position)
        {
            if (!reader.ValueIsEscaped)
            {
                var name = reader.ValueSpan;
                if (position < _lastAtPosition.Count)
                {
                    var guess = _lastAtPosition[position];
                    if (name.SequenceEqual(_utf8[guess]))
                    {
                        return guess;
                    }
                }

                if (name.Length <= 256)
                {
                    Span<char> chars = stackalloc char[256];
                    var count = Encoding.UTF8.GetChars(name, chars);
                    return Remember(position, _bySpan.TryGetValue(chars[..count], out var found) ? found : -1);
                }
            }

            return Remember(position, _byName.TryGetValue(reader.GetString()!, out var column) ? column : -1);
        }

        private int Remember(int position, int column)
        {
            if (column >= 0)
            {
                if (position < _lastAtPosition.Count)
                {
                    _lastAtPosition[position] = column;
                }
                else if (position == _lastAtPosition.Count)
                {
                    _lastAtPosition.Add(column);
                }
            }

            return column;
        }
    }

    /// <summary>A view of the shared file stream whose disposal leaves the file open for the next pass.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
