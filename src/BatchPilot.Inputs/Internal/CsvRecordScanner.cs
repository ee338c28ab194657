namespace BatchPilot.Inputs.Internal;

/// <summary>
/// Walks the raw bytes of one CSV record the way RFC 4180 reads them, to say where a problem that the parser found is:
/// which field, and how many line breaks into the record. Used on error paths only.
/// </summary>
internal static class CsvRecordScanner
{
    internal enum QuoteProblem
    {
        None,
        Unclosed,
        TextAfterQuote,
    }

    /// <summary>Finds the first quoting problem of a record: the field and line offset where the bad quoted value starts.</summary>
    public static (QuoteProblem Kind, int Field, int LineOffset) FindQuoteProblem(ReadOnlySpan<byte> raw, byte separator)
    {
        var field = 0;
        var line = 0;
        var atFieldStart = true;
        var inQuotes = false;
        var openField = 0;
        var openLine = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (inQuotes)
            {
                if (b == (byte)'"')
                {
                    if (i + 1 < raw.Length && raw[i + 1] == (byte)'"')
                    {
                        i++;
                        continue;
                    }

                    inQuotes = false;
                    if (i + 1 < raw.Length && raw[i + 1] != separator && raw[i + 1] is not ((byte)'\r' or (byte)'\n'))
                    {
                        return (QuoteProblem.TextAfterQuote, openField, openLine);
                    }
                }
                else if (IsLineBreak(raw, i))
                {
                    line++;
                }

                continue;
            }

            if (b == separator)
            {
                field++;
                atFieldStart = true;
                continue;
            }

            if (b == (byte)'"' && atFieldStart)
            {
                inQuotes = true;
                openField = field;
                openLine = line;
            }
            else if (IsLineBreak(raw, i))
            {
                line++;
            }

            atFieldStart = false;
        }

        return inQuotes ? (QuoteProblem.Unclosed, openField, openLine) : (QuoteProblem.None, 0, 0);
    }

    /// <summary>The field and the line offset (line breaks before it in the record) of byte <paramref name="position"/>.</summary>
    public static (int Field, int LineOffset) Locate(ReadOnlySpan<byte> raw, byte separator, int position)
    {
        var field = 0;
        var line = 0;
        var atFieldStart = true;
        var inQuotes = false;
        var end = Math.Min(position, raw.Length);
        for (var i = 0; i < end; i++)
        {
            var b = raw[i];
            if (inQuotes)
            {
                if (b == (byte)'"')
                {
                    if (i + 1 < raw.Length && raw[i + 1] == (byte)'"')
                    {
                        i++;
                        continue;
                    }

                    inQuotes = false;
                }
                else if (IsLineBreak(raw, i))
                {
                    line++;
                }

                continue;
            }

            if (b == separator)
            {
                field++;
                atFieldStart = true;
                continue;
            }

            if (b == (byte)'"' && atFieldStart)
            {
                inQuotes = true;
            }
            else if (IsLineBreak(raw, i))
            {
                line++;
            }

            atFieldStart = false;
        }

        return (field, line);
    }

    /// <summary>A line feed, or a carriage return not followed by one (CR LF counts once, on its LF).</summary>
    private static bool IsLineBreak(ReadOnlySpan<byte> raw, int i) =>
        raw[i] == (byte)'\n' || (raw[i] == (byte)'\r' && (i + 1 >= raw.Length || raw[i + 1] != (byte)'\n'));
}
