using System.Globalization;
using BatchPilot.Errors;

namespace BatchPilot.Inputs.Internal;

/// <summary>
/// Every user-facing message of the table readers, in one place so that they read alike and the exact-message tests
/// have one file to follow. Each returns the exception for the caller to throw.
/// </summary>
internal static class InputErrors
{
    internal const string StdinName = "<stdin>";

    private const string JsonlShapeHint = "Each line must hold one JSON object, such as {\"id\": 1, \"text\": \"...\"}";

    public static InputException NoPath() =>
        new("no input file was given", hint: "Pass the path of a CSV or JSONL file, or - to read standard input");

    public static InputException NotFound(string file, string? suggestion)
    {
        var hint = suggestion is not null
            ? $"A file with a similar name exists: {suggestion}"
            : $"Check the path; a relative path starts from the current directory, {Directory.GetCurrentDirectory()}";
        return new InputException("file not found", file: file, hint: hint);
    }

    public static InputException WindowsPath(string file, string? wslPath)
    {
        var hint = wslPath is not null
            ? $"Use a path on this machine with forward slashes (under WSL this file would be {wslPath})"
            : $"Use a path on this machine with forward slashes, such as {file.Replace('\\', '/')}";
        return new InputException("file not found: this is a Windows path, and this machine is not Windows", file: file, hint: hint);
    }

    public static InputException IsDirectory(string file) =>
        new("this is a directory, not a file", file: file, hint: "Give the path of a .csv or .jsonl file inside it");

    public static InputException PermissionDenied(string file, Exception cause) =>
        new("file cannot be read: permission denied", cause, file: file,
            hint: "Make it readable (for example chmod u+r) or copy it to a place you can read");

    public static InputException CannotRead(string file, IOException cause) =>
        new($"file cannot be read: {cause.Message}", cause, file: file, hint: "Check that the file is complete and not locked by another program");

    public static InputException Empty(string file, bool whitespaceOnly, bool jsonl)
    {
        var message = whitespaceOnly ? "file is empty: it holds only blank lines" : "file is empty";
        var hint = jsonl ? "Write one JSON object per line" : "A CSV file needs a header row and at least one data row";
        return new InputException(message, file: file, hint: hint);
    }

    public static InputException ZipArchive(string file) =>
        new("this is an Excel workbook or another zip archive, not a CSV or JSONL file", file: file,
            hint: "In Excel, use File > Save As > CSV UTF-8 (comma delimited), then pass the .csv file");

    public static InputException OfficeDocument(string file) =>
        new("this is an old Excel .xls workbook or another Office document, not a CSV or JSONL file", file: file,
            hint: "In Excel, use File > Save As > CSV UTF-8 (comma delimited), then pass the .csv file");

    public static InputException Gzip(string file) =>
        new("this file is gzip-compressed", file: file, hint: "Decompress it first (gunzip) and pass the result");

    public static InputException NulBytes(string file) =>
        new("file contains NUL bytes: it is UTF-16 text without a byte order mark, or not a text file", file: file,
            hint: "Save it as UTF-8, or pass --encoding utf-16 if it is UTF-16 text");

    public static InputException HeaderOnly(string file) =>
        new("file has a header row but no data rows", file: file, hint: "Add at least one row of data below the header");

    public static InputException EmptyHeaderName(string file, long row, int column, int count)
    {
        var hint = column == count && count > 1
            ? "Name the column, or remove the delimiter at the end of the header line"
            : "Give every column a name in the header row";
        return new InputException($"column {Number(column)} of the header has no name", file: file, row: row, hint: hint);
    }

    public static InputException DuplicateHeader(string file, long row, string name, int first, int second) =>
        new($"the header has two columns with this name (columns {Number(first)} and {Number(second)})",
            file: file, row: row, field: name, hint: "Rename one of them so that every column name is unique");

    public static InputException FieldCount(string file, long row, int found, int expected, char delimiter)
    {
        var name = DelimiterName(delimiter);
        var fields = found == 1 ? "1 field" : $"{Number(found)} fields";
        return new InputException($"this row has {fields}, but the header has {Number(expected)}", file: file, row: row,
            hint: $"Put values that contain a {name} or a line break in double quotes, or pass --delimiter if the file is not {name}-separated");
    }

    public static InputException UnclosedQuote(string file, long row, string? field) =>
        new("a quoted value starts here but its closing quote is missing", file: file, row: row, field: field,
            hint: "Add the closing quote, and double every quote inside a quoted value (\"\")");

    public static InputException TextAfterQuote(string file, long row, string? field) =>
        new("text follows the closing quote of a quoted value", file: file, row: row, field: field,
            hint: "Double every quote inside a quoted value, as in \"she said \"\"hi\"\"\"");

    public static InputException RecordTooLarge(string file, long row, Exception cause) =>
        new($"a record starting here is longer than {Limits.MaxRecordBytes / (1024 * 1024)} MiB, which usually means a quote that is never closed",
            cause, file: file, row: row, hint: "Check the quotes on this row: double every quote inside a quoted value (\"\")");

    public static InputException NotUtf8(string file, long row, string? field, string suggestedEncoding) =>
        new("contains bytes that are not valid UTF-8", file: file, row: row, field: field,
            hint: $"The file is in another encoding: pass --encoding {suggestedEncoding}, or save it as UTF-8");

    public static InputException LineTooLong(string file, long line, bool startsWithBracket)
    {
        var hint = startsWithBracket
            ? "The file looks like one JSON array: convert it to one object per line, for example with jq -c '.[]' in.json > in.jsonl"
            : JsonlShapeHint;
        return new InputException($"line is longer than {Limits.MaxRecordBytes / (1024 * 1024)} MiB", file: file, row: line, hint: hint);
    }

    public static InputException InvalidJson(string file, long line, string detail, Exception? cause, string? trimmedLine)
    {
        var hint = trimmedLine switch
        {
            "[" => "The file looks like a pretty-printed JSON array: convert it to one object per line, for example with jq -c '.[]' in.json > in.jsonl",
            "{" => "The file looks like pretty-printed JSON: JSON Lines needs each object on one line, for example jq -c '.' in.json > in.jsonl",
            _ => JsonlShapeHint,
        };
        var message = $"line is not valid JSON: {detail}";
        return cause is null
            ? new InputException(message, file: file, row: line, hint: hint)
            : new InputException(message, cause, file: file, row: line, hint: hint);
    }

    public static InputException NotAnObject(string file, long line, string kind) =>
        new($"line is {kind}, not a JSON object", file: file, row: line, hint: JsonlShapeHint);

    public static InputException DuplicateKey(string file, long line, string key) =>
        new("this key appears twice in the object", file: file, row: line, field: key, hint: "Keep one value per key");

    public static InputException NoKeys(string file) =>
        new("no line holds an object with a key", file: file, hint: "Give every object the same keys, one per column, such as {\"id\": 1, \"text\": \"...\"}");

    public static InputException ChangedWhileReading(string file, long line) =>
        new("file changed while it was being read", file: file, row: line, hint: "Wait until the program writing it has finished, then run again");

    public static InputException BadDelimiter(string value) =>
        new($"'{value}' cannot be used as a delimiter", field: "--delimiter",
            hint: "Use one character such as , ; or |, or tab (also written \\t)");

    public static InputException BadEncoding(string value) =>
        new($"unknown encoding '{value}'", field: "--encoding", hint: "Use utf-8, latin1, windows-1252, utf-16 or gbk");

    public static InputException BadFormat(string value) =>
        new($"unknown format '{value}'", field: "--format", hint: "Use csv or jsonl");

    internal static string DelimiterName(char delimiter) => delimiter switch
    {
        ',' => "comma",
        ';' => "semicolon",
        '\t' => "tab",
        '|' => "pipe",
        ' ' => "space",
        _ => $"'{delimiter}'",
    };

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
