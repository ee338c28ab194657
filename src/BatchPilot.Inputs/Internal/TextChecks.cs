using System.Text;

namespace BatchPilot.Inputs.Internal;

/// <summary>Checks on raw UTF-8 bytes, for error paths.</summary>
internal static class TextChecks
{
    /// <summary>The index of the first byte that does not start a valid UTF-8 sequence, or -1.</summary>
    public static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length)
        {
            var status = Rune.DecodeFromUtf8(bytes[i..], out _, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                return i;
            }

            i += consumed;
        }

        return -1;
    }

    /// <summary>
    /// The encoding to suggest for bytes that are not UTF-8. Chinese text in GBK comes as long runs of bytes above 0x7F,
    /// two per character; Western text in Windows-1252 has single accented letters between ASCII ones.
    /// </summary>
    public static string SuggestEncoding(ReadOnlySpan<byte> bytes)
    {
        var high = 0;
        var inLongEvenRuns = 0;
        var run = 0;
        for (var i = 0; i <= bytes.Length; i++)
        {
            if (i < bytes.Length && bytes[i] >= 0x80)
            {
                run++;
                continue;
            }

            high += run;
            if (run >= 4 && run % 2 == 0)
            {
                inLongEvenRuns += run;
            }

            run = 0;
        }

        return high > 0 && inLongEvenRuns * 2 > high ? "gbk" : "latin1";
    }

    /// <summary>Whether the bytes are only spaces and tabs (or nothing).</summary>
    public static bool IsBlank(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0;
}
