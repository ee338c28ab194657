namespace BatchPilot.Errors;

/// <summary>
/// A user mistake: bad input file, bad flag, bad configuration. Carries where the problem is and what to do,
/// and is turned into exactly one line and a non-zero exit code at the top of the CLI. Nothing else catches it.
/// </summary>
public sealed class InputException : Exception
{
    /// <summary>Creates a user-facing error.</summary>
    /// <param name="message">What is wrong, as a sentence fragment without the location.</param>
    /// <param name="file">The file concerned, as the user named it, if any.</param>
    /// <param name="row">1-based row as a spreadsheet shows it (header = row 1), or the 1-based line of a JSONL/YAML file.</param>
    /// <param name="field">The column, field or option concerned.</param>
    /// <param name="hint">What the user should do.</param>
    /// <param name="exitCode">The process exit code (see <see cref="ExitCodes"/>).</param>
    public InputException(string message, string? file = null, long? row = null, string? field = null, string? hint = null, int exitCode = ExitCodes.BadInput)
        : base(message)
    {
        File = file;
        Row = row;
        Field = field;
        Hint = hint;
        ExitCode = exitCode;
    }

    /// <summary>Creates a user-facing error that wraps the technical cause (shown only with --verbose).</summary>
    public InputException(string message, Exception innerException, string? file = null, long? row = null, string? field = null, string? hint = null, int exitCode = ExitCodes.BadInput)
        : base(message, innerException)
    {
        File = file;
        Row = row;
        Field = field;
        Hint = hint;
        ExitCode = exitCode;
    }

    /// <summary>The file concerned, if any.</summary>
    public string? File { get; }

    /// <summary>1-based row (spreadsheet numbering: the header is row 1) or line.</summary>
    public long? Row { get; }

    /// <summary>Column, field or option concerned.</summary>
    public string? Field { get; }

    /// <summary>What to do about it.</summary>
    public string? Hint { get; }

    /// <summary>The exit code the CLI returns.</summary>
    public int ExitCode { get; }

    /// <summary>The single line shown to the user: <c>file:row: field 'x': message. hint</c>.</summary>
    public string ToUserLine()
    {
        var sb = new System.Text.StringBuilder();
        if (File is not null)
        {
            sb.Append(File);
            if (Row is not null)
            {
                sb.Append(", row ").Append(Row.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            sb.Append(": ");
        }
        else if (Row is not null)
        {
            sb.Append("row ").Append(Row.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(": ");
        }

        if (Field is not null)
        {
            sb.Append('\'').Append(Field).Append("': ");
        }

        sb.Append(Message.TrimEnd('.'));
        sb.Append('.');
        if (!string.IsNullOrWhiteSpace(Hint))
        {
            var hint = Hint.Trim().TrimEnd('.');
            sb.Append(' ').Append(char.ToUpperInvariant(hint[0])).Append(hint.AsSpan(1)).Append('.');
        }

        return sb.ToString();
    }
}
