namespace BatchPilot.Inputs.Internal;

/// <summary>
/// Picks the CSV separator from the header line: the candidate (<c>,</c> <c>;</c> tab <c>|</c>) that appears most often
/// outside quotes, the comma on a tie or when none appears (a one-column file). The header alone decides, because values
/// may hold any of the candidates while column names rarely do: a one-column file of sentences with commas stays one
/// column.
/// </summary>
internal static class DelimiterDetector
{
    private const string Candidates = ",;\t|";

    /// <summary>Detects the separator of the text that starts with <paramref name="head"/>.</summary>
    /// <returns>The separator; whether the first line is an Excel <c>sep=X</c> line that names it (and must be skipped);
    /// and whether the header holds no candidate at all, which makes the file one column.</returns>
    public static (char Separator, bool FromSepLine, bool SingleColumn) Detect(string head)
    {
        var span = head.AsSpan();

        // CsvHelper skips empty lines before the header; do the same.
        while (span.Length > 0 && span[0] is '\r' or '\n')
        {
            span = span[1..];
        }

        var firstLineEnd = span.IndexOfAny('\r', '\n');
        var firstLine = firstLineEnd < 0 ? span : span[..firstLineEnd];
        if (firstLine.Length == 5 && firstLine.StartsWith("sep=", StringComparison.OrdinalIgnoreCase) && firstLine[4] != '"')
        {
            return (firstLine[4], true, false);
        }

        Span<int> counts = stackalloc int[Candidates.Length];
        var inQuotes = false;
        var atFieldStart = true;
        for (var i = 0; i < span.Length; i++)
        {
            var c = span[i];
            if (inQuotes)
            {
                if (c == '"')
                {
                    if (i + 1 < span.Length && span[i + 1] == '"')
                    {
                        i++;
                    }
                    else
                    {
                        inQuotes = false;
                    }
                }

                continue;
            }

            if (c is '\r' or '\n')
            {
                break;
            }

            if (c == '"' && atFieldStart)
            {
                inQuotes = true;
                atFieldStart = false;
                continue;
            }

            var candidate = Candidates.IndexOf(c, StringComparison.Ordinal);
            if (candidate >= 0)
            {
                counts[candidate]++;

                // A quote opens a quoted field right after any candidate: which one separates is not known yet.
                atFieldStart = true;
                continue;
            }

            atFieldStart = false;
        }

        var best = 0;
        for (var k = 1; k < counts.Length; k++)
        {
            if (counts[k] > counts[best])
            {
                best = k;
            }
        }

        return (Candidates[best], false, counts[best] == 0);
    }
}
