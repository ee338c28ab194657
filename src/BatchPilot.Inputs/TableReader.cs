using BatchPilot.Errors;
using BatchPilot.Inputs.Internal;

namespace BatchPilot.Inputs;

/// <summary>
/// Reads the rows of a CSV or JSONL table, streaming: memory stays flat whatever the size of the file.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Open(string, TableReadOptions)"/> checks everything about the file as a whole (it exists, is readable,
/// is text, is not empty, has a usable header and at least one data row) and <see cref="ReadRows"/> reports row problems
/// (a row with the wrong number of fields, an unclosed quote, bytes that are not UTF-8, a line that is not a JSON object)
/// when it reaches them. Every such problem is an <see cref="InputException"/> naming the file, the row and, where there
/// is one, the column, with a hint saying what to do.
/// </para>
/// <para>CSV: a header row is required and its names are trimmed; values are kept as they are (an empty field is
/// <c>""</c>). Quoted fields may hold separators, doubled quotes and line breaks. Blank lines are passed over. A quote
/// inside an unquoted value (<c>5'11"</c>) is kept as text.</para>
/// <para>Not thread-safe: read from one thread.</para>
/// </remarks>
public sealed class TableReader : IDisposable
{
    private readonly InputFile _file;
    private readonly ITableSource _source;
    private int _readStarted;
    private bool _disposed;

    private TableReader(InputFile file, ITableSource source, string format)
    {
        _file = file;
        _source = source;
        Format = format;
    }

    /// <summary>The file as the user named it, or <c>&lt;stdin&gt;</c>; the name error messages use.</summary>
    public string DisplayName => _file.DisplayName;

    /// <summary>
    /// The column names in file order. For CSV the header names, trimmed; for JSONL the keys of all objects in the order
    /// they first appear.
    /// </summary>
    public IReadOnlyList<string> Columns => _source.Columns;

    /// <summary>The format the file is read as: <c>csv</c> or <c>jsonl</c>.</summary>
    public string Format { get; }

    /// <summary>The CSV separator in use (given or detected), such as <c>","</c> or <c>"\t"</c>; <see langword="null"/> for JSONL.</summary>
    public string? Delimiter => _source.Separator?.ToString();

    /// <summary>Opens a table file and reads its header.</summary>
    /// <param name="path">The path as the user gave it; <c>-</c> reads standard input (copied to a temporary file that
    /// <see cref="Dispose"/> deletes).</param>
    /// <param name="options">How to read it.</param>
    /// <returns>A reader positioned before the first data row.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="InputException">An option cannot be used, or the file cannot be read as a table: it is missing, a
    /// directory, unreadable, empty, not text, has an empty or duplicate column name, or a header and no data rows.</exception>
    public static TableReader Open(string path, TableReadOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        if (path == "-")
        {
            // The one place this library touches the console: "-" is the user's way of naming standard input.
            using var stdin = Console.OpenStandardInput();
            return Open(stdin, InputErrors.StdinName, options);
        }

        var (delimiter, encoding, format) = ParseOptions(options);
        var file = InputFile.Open(path);
        return Create(file, delimiter, encoding, format ?? OptionParsing.FormatFromExtension(path));
    }

    /// <summary>Reads a table from a stream, such as standard input or a download. The stream is copied to a temporary
    /// file first (deleted by <see cref="Dispose"/>), and read to its end.</summary>
    /// <param name="input">The content.</param>
    /// <param name="displayName">The name error messages give it, such as <c>&lt;stdin&gt;</c>.</param>
    /// <param name="options">How to read it. Without a format, the content is JSONL when its first non-blank character
    /// is <c>{</c> or <c>[</c>, and CSV otherwise.</param>
    /// <returns>A reader positioned before the first data row.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="InputException">As for <see cref="Open(string, TableReadOptions)"/>.</exception>
    public static TableReader Open(Stream input, string displayName, TableReadOptions options)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(displayName);
        ArgumentNullException.ThrowIfNull(options);
        var (delimiter, encoding, format) = ParseOptions(options);
        var file = InputFile.Spool(input, displayName);
        try
        {
            format ??= file.Sniff(encoding, jsonl: false).Head.TrimStart() is ['{' or '[', ..] ? TableFormat.Jsonl : TableFormat.Csv;
        }
        catch
        {
            file.Dispose();
            throw;
        }

        return Create(file, delimiter, encoding, format.Value);
    }

    /// <summary>
    /// Reads the data rows in file order. The rows are read as they are enumerated, and this can be done once.
    /// </summary>
    /// <param name="cancellationToken">Stops the enumeration between two rows.</param>
    /// <returns>The rows; each has its own <see cref="TableRow.Values"/> array, which the caller may keep.</returns>
    /// <exception cref="InputException">Thrown by the enumeration at the first bad row.</exception>
    /// <exception cref="InvalidOperationException">The rows have already been read.</exception>
    /// <exception cref="ObjectDisposedException">The reader has been disposed.</exception>
    /// <exception cref="OperationCanceledException">Thrown by the enumeration when <paramref name="cancellationToken"/> is cancelled.</exception>
    public IEnumerable<TableRow> ReadRows(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _readStarted, 1) != 0)
        {
            throw new InvalidOperationException("The rows of a TableReader can be read once; open the file again to read them again.");
        }

        return _source.ReadRows(cancellationToken);
    }

    /// <summary>Closes the file, and deletes the temporary copy of standard input.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _source.Dispose();
        _file.Dispose();
    }

    private static (char? Delimiter, System.Text.Encoding? Encoding, TableFormat? Format) ParseOptions(TableReadOptions options) =>
        (OptionParsing.ParseDelimiter(options.Delimiter), OptionParsing.ParseEncoding(options.Encoding), OptionParsing.ParseFormat(options.Format));

    private static TableReader Create(InputFile file, char? delimiter, System.Text.Encoding? encoding, TableFormat format)
    {
        try
        {
            ITableSource source = format == TableFormat.Jsonl
                ? JsonlSource.Open(file, encoding)
                : CsvSource.Open(file, delimiter, encoding);
            return new TableReader(file, source, format == TableFormat.Jsonl ? "jsonl" : "csv");
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
