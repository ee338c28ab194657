namespace BatchPilot.Inputs;

/// <summary>How <see cref="TableReader.Open(string, TableReadOptions)"/> reads a table. Every property is optional.</summary>
/// <remarks>The values are the ones a user typed (<c>--delimiter</c>, <c>--encoding</c>, <c>--format</c>); a value that
/// cannot be used is reported as an <see cref="BatchPilot.Errors.InputException"/> naming the option.</remarks>
public sealed class TableReadOptions
{
    /// <summary>The options with every property unset: detect the delimiter, strict UTF-8, format from the extension.</summary>
    public static TableReadOptions Default { get; } = new();

    /// <summary>
    /// The CSV field separator: one ASCII character such as <c>,</c> <c>;</c> <c>|</c>, or a name: <c>tab</c> (also
    /// <c>\t</c>), <c>comma</c>, <c>semicolon</c>, <c>pipe</c>, <c>space</c>. <see langword="null"/> detects it from the
    /// header line among <c>,</c> <c>;</c> tab and <c>|</c> (an Excel <c>sep=;</c> first line is honoured).
    /// Not used for JSONL.
    /// </summary>
    public string? Delimiter { get; init; }

    /// <summary>
    /// The text encoding. <see langword="null"/> means UTF-8, strictly: a byte order mark is accepted, and bytes that are
    /// not UTF-8 are an error naming the row. Otherwise a name such as <c>utf-8</c>, <c>latin1</c>, <c>windows-1252</c>,
    /// <c>utf-16</c>, <c>utf-16be</c>, <c>gbk</c> or <c>shift_jis</c>. As in web browsers, <c>latin1</c> and
    /// <c>iso-8859-1</c> read as <c>windows-1252</c>, its superset, so that curly quotes and the euro sign saved by
    /// Windows programs come out right. A UTF-16 byte order mark is honoured whatever this says.
    /// </summary>
    public string? Encoding { get; init; }

    /// <summary>
    /// <c>csv</c> or <c>jsonl</c> (also <c>ndjson</c>). <see langword="null"/> decides from the extension:
    /// <c>.jsonl</c>, <c>.ndjson</c> and <c>.json</c> are JSONL, anything else is CSV; standard input is JSONL when its
    /// first non-blank character is <c>{</c>.
    /// </summary>
    public string? Format { get; init; }
}
