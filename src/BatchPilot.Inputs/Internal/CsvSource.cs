using System.Text;
using System.Text.Unicode;
using BatchPilot.Errors;
using CsvHelper;

namespace BatchPilot.Inputs.Internal;

/// <summary>
/// A CSV table, read with CsvHelper's reader. The header is read and checked when the source is opened, and the first
/// data record is read too, so that a file with a header only is refused before anything else happens; every other
/// problem is reported by <see cref="ReadRows"/> at the record where it is.
/// </summary>
internal sealed class CsvSource : ITableSource
{
    private readonly InputFile _file;
    private readonly CsvReader _reader;
    private readonly string[] _columns;
    private const char UnitSeparator = '\u001F';

    private readonly char _separator;
    private readonly char _parserSeparator;
    private readonly bool _checkUtf8;
    private readonly Queue<CsvMalformedRecord> _quoteProblems;
    private bool _onRecord;
    private InputException? _deferred;

    private CsvSource(InputFile file, CsvReader reader, string[] columns, char separator, char parserSeparator, bool checkUtf8,
        Queue<CsvMalformedRecord> quoteProblems)
    {
        _parserSeparator = parserSeparator;
        _file = file;
        _reader = reader;
        _columns = columns;
        _separator = separator;
        _checkUtf8 = checkUtf8;
        _quoteProblems = quoteProblems;
    }

    public IReadOnlyList<string> Columns => _columns;

    public char? Separator => _separator;

    private string FileName => _file.DisplayName;

    /// <summary>Opens the CSV table of <paramref name="file"/> and checks its header.</summary>
    /// <exception cref="InputException">The file is empty, has a bad header, or has no data rows.</exception>
    public static CsvSource Open(InputFile file, char? delimiter, Encoding? encoding)
    {
        var sniff = file.Sniff(encoding, jsonl: false);
        var (detected, fromSepLine, singleColumn) = DelimiterDetector.Detect(sniff.Head);
        var separator = fromSepLine ? detected : delimiter ?? detected;

        // A header without any separator makes a one-column table, such as a list of prompts: each line is one value,
        // commas included. The parser is given a separator that text does not hold (ASCII "unit separator").
        var parserSeparator = singleColumn && delimiter is null ? UnitSeparator : separator;

        var quoteProblems = new Queue<CsvMalformedRecord>();
        var options = CsvReaderOptions.Default with
        {
            // An Excel "sep=;" line names the separator: CsvHelper honours it and skips it only when it detects.
            Separator = fromSepLine ? null : parserSeparator,
            DetectSeparatorHint = fromSepLine,
            HasHeader = true,
            Mode = CsvMode.Rfc4180,
            TrackLineNumbers = true,
            MaxRecordSize = Limits.MaxRecordBytes,
            Encoding = sniff.Encoding,
            MalformedData = CsvMalformedDataHandling.Recover,
            FieldCountMismatch = CsvFieldCountHandling.Allow,

            // A stray quote inside an unquoted value (5'11") is kept as text; these two lose data, so they are errors.
            OnMalformedRecord = record =>
            {
                if (record.Reason is CsvMalformedReason.UnterminatedQuote or CsvMalformedReason.TextAfterClosingQuote)
                {
                    quoteProblems.Enqueue(record);
                }
            },
        };

        var reader = CsvReader.Create(file.Stream, options, leaveOpen: true);
        try
        {
            var columns = ReadHeader(file.DisplayName, reader, parserSeparator, sniff.Encoding is null, quoteProblems);
            var source = new CsvSource(file, reader, columns, separator, parserSeparator, sniff.Encoding is null, quoteProblems);
            source.ReadFirstRecord();
            return source;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    public IEnumerable<TableRow> ReadRows(CancellationToken cancellationToken)
    {
        if (_deferred is not null)
        {
            throw _deferred;
        }

        long index = 0;
        while (_onRecord)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return MakeRow(++index);
            _onRecord = MoveNext();
        }
    }

    public void Dispose() => _reader.Dispose();

    private static string[] ReadHeader(string fileName, CsvReader reader, char separator, bool checkUtf8, Queue<CsvMalformedRecord> quoteProblems)
    {
        try
        {
            reader.ReadHeader();
        }
        catch (CsvFormatException ex)
        {
            throw Translate(fileName, ex);
        }
        catch (IOException ex)
        {
            throw InputErrors.CannotRead(fileName, ex);
        }

        var headerLine = reader.LineNumber;
        if (quoteProblems.TryPeek(out var problem) && problem.RecordNumber == 1)
        {
            throw QuoteError(fileName, problem, separator, columns: null);
        }

        var names = reader.Headers;
        var columns = new string[names.Count];
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i].Trim();
            if (checkUtf8 && name.Contains('\uFFFD', StringComparison.Ordinal))
            {
                throw InputErrors.NotUtf8(fileName, headerLine, field: null, TextChecks.SuggestEncoding(Encoding.Latin1.GetBytes(names[i])));
            }

            if (name.Length == 0)
            {
                throw InputErrors.EmptyHeaderName(fileName, headerLine, i + 1, names.Count);
            }

            if (!seen.TryAdd(name, i))
            {
                throw InputErrors.DuplicateHeader(fileName, headerLine, name, seen[name] + 1, i + 1);
            }

            columns[i] = name;
        }

        return columns;
    }

    /// <summary>Moves to the first data record, refusing a file that has none.</summary>
    private void ReadFirstRecord()
    {
        try
        {
            _onRecord = MoveNext();
        }
        catch (InputException ex)
        {
            // A problem in the first data row is a row problem: ReadRows reports it.
            _deferred = ex;
            return;
        }

        if (!_onRecord)
        {
            throw InputErrors.HeaderOnly(FileName);
        }
    }

    /// <summary>Reads the next record, passing over lines that hold only spaces or tabs.</summary>
    private bool MoveNext()
    {
        while (true)
        {
            bool read;
            try
            {
                read = _reader.Read();
            }
            catch (CsvFormatException ex)
            {
                throw Translate(FileName, ex);
            }
            catch (IOException ex)
            {
                throw InputErrors.CannotRead(FileName, ex);
            }

            if (!read)
            {
                return false;
            }

            if (_reader.FieldCount == 1 && TextChecks.IsBlank(_reader.Current.RawRecord) && !HasQuoteProblem())
            {
                continue;
            }

            return true;
        }
    }

    private bool HasQuoteProblem()
    {
        var recordNumber = _reader.RowNumber + 1;
        while (_quoteProblems.TryPeek(out var problem) && problem.RecordNumber < recordNumber)
        {
            _quoteProblems.Dequeue();
        }

        return _quoteProblems.TryPeek(out var current) && current.RecordNumber == recordNumber;
    }

    /// <summary>Checks the current record and copies its values into a row of their own.</summary>
    private TableRow MakeRow(long index)
    {
        var line = _reader.LineNumber;
        if (HasQuoteProblem())
        {
            throw QuoteError(FileName, _quoteProblems.Peek(), _parserSeparator, _columns);
        }

        if (_checkUtf8 && !Utf8.IsValid(_reader.Current.RawRecord))
        {
            throw Utf8Error(line);
        }

        var count = _reader.FieldCount;
        if (count != _columns.Length)
        {
            throw InputErrors.FieldCount(FileName, line, count, _columns.Length, _separator);
        }

        var values = new string?[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = _reader.GetString(i);
        }

        return new TableRow(index, line, values);
    }

    private InputException Utf8Error(long line)
    {
        var raw = _reader.Current.RawRecord;
        var position = TextChecks.FirstInvalidUtf8(raw);
        var (field, lineOffset) = CsvRecordScanner.Locate(raw, (byte)_parserSeparator, position);
        return InputErrors.NotUtf8(FileName, line + lineOffset, ColumnName(_columns, field), TextChecks.SuggestEncoding(raw));
    }

    private static InputException QuoteError(string fileName, CsvMalformedRecord problem, char separator, string[]? columns)
    {
        var raw = Encoding.UTF8.GetBytes(problem.RawRecord);
        var (kind, field, lineOffset) = CsvRecordScanner.FindQuoteProblem(raw, (byte)separator);
        var row = problem.LineNumber + lineOffset;
        var name = kind == CsvRecordScanner.QuoteProblem.None ? null : ColumnName(columns, field);
        return problem.Reason == CsvMalformedReason.UnterminatedQuote
            ? InputErrors.UnclosedQuote(fileName, row, name)
            : InputErrors.TextAfterQuote(fileName, row, name);
    }

    private static string? ColumnName(string[]? columns, int field) =>
        columns is not null && field >= 0 && field < columns.Length ? columns[field] : null;

    private static InputException Translate(string fileName, CsvFormatException ex) =>
        ex.Message.Contains("MaxRecordSize", StringComparison.Ordinal)
            ? InputErrors.RecordTooLarge(fileName, ex.LineNumber, ex)
            : new InputException($"cannot be read as CSV: {ex.Message}", ex, file: fileName, row: ex.LineNumber == 0 ? null : ex.LineNumber,
                hint: "Check the quotes and separators around this row");
}
