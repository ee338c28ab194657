using System.Text;

namespace BatchPilot.Inputs.Internal;

/// <summary>The formats a table can be read as.</summary>
internal enum TableFormat
{
    Csv,
    Jsonl,
}

/// <summary>Turns the option strings of <see cref="TableReadOptions"/> into values, or into the error that names the option.</summary>
internal static class OptionParsing
{
    public static char? ParseDelimiter(string? value)
    {
        if (value is null)
        {
            return null;
        }

        char? parsed = value.Trim().ToUpperInvariant() switch
        {
            "TAB" or "\\T" or "TSV" => '\t',
            "COMMA" => ',',
            "SEMICOLON" => ';',
            "PIPE" => '|',
            "SPACE" => ' ',
            _ => value.Length == 1 ? value[0] : null,
        };

        // The reader needs one ASCII character, and the quote and line breaks already have a meaning.
        if (parsed is not { } c || c > 127 || c is '"' or '\r' or '\n' || (char.IsControl(c) && c != '\t') || char.IsLetterOrDigit(c))
        {
            throw InputErrors.BadDelimiter(value);
        }

        return c;
    }

    /// <summary>Resolves an encoding name; <see langword="null"/> stands for strict UTF-8.</summary>
    public static Encoding? ParseEncoding(string? value)
    {
        if (value is null)
        {
            return null;
        }

        var name = value.Trim().ToUpperInvariant().Replace('_', '-');
        switch (name)
        {
            case "UTF-8" or "UTF8" or "UTF-8-SIG":
                return null;
            case "LATIN1" or "LATIN-1" or "ISO-8859-1" or "ISO8859-1" or "L1" or "WINDOWS-1252" or "CP1252" or "1252" or "ANSI":
                // Browsers read latin1 as windows-1252 too: it only differs in 0x80-0x9F, control codes in latin1 that
                // no real text holds, and where Windows programs put curly quotes, dashes and the euro sign.
                return CodePagesEncodingProvider.Instance.GetEncoding(1252);
            case "UTF-16" or "UTF16" or "UTF-16LE" or "UTF16LE" or "UCS-2" or "UNICODE":
                return Encoding.Unicode;
            case "UTF-16BE" or "UTF16BE":
                return Encoding.BigEndianUnicode;
            case "UTF-32" or "UTF32" or "UTF-32LE":
                return Encoding.UTF32;
            case "ASCII" or "US-ASCII":
                // ASCII is a subset of UTF-8; reading it as UTF-8 reports stray bytes instead of turning them into '?'.
                return null;
            default:
                break;
        }

        try
        {
            return CodePagesEncodingProvider.Instance.GetEncoding(value.Trim()) ?? Encoding.GetEncoding(value.Trim());
        }
        catch (ArgumentException)
        {
            throw InputErrors.BadEncoding(value);
        }
    }

    public static TableFormat? ParseFormat(string? value)
    {
        if (value is null)
        {
            return null;
        }

        return value.Trim().ToUpperInvariant() switch
        {
            "CSV" or "TSV" or "TXT" => TableFormat.Csv,
            "JSONL" or "NDJSON" or "JSON" or "JSONLINES" => TableFormat.Jsonl,
            _ => throw InputErrors.BadFormat(value),
        };
    }

    public static TableFormat FormatFromExtension(string path)
    {
        var extension = Path.GetExtension(path);
        return extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase)
            || extension.Equals(".ndjson", StringComparison.OrdinalIgnoreCase)
            || extension.Equals(".json", StringComparison.OrdinalIgnoreCase)
            ? TableFormat.Jsonl
            : TableFormat.Csv;
    }
}
