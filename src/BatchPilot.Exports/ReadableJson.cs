using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace BatchPilot.Exports;

/// <summary>
/// JSON for people to read: letters of every script and emoji are written as themselves (UTF-8), not as <c>\u00E9</c>
/// escapes. Only what JSON requires is escaped (quote, backslash, control characters), plus lone surrogates (so the
/// output stays valid UTF-8) and U+2028/U+2029. <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/> still
/// escapes emoji and some scripts, hence this encoder. Never for JSON embedded in HTML.
/// </summary>
public sealed class ReadableJson : JavaScriptEncoder
{
    private ReadableJson()
    {
    }

    /// <summary>The encoder.</summary>
    public static ReadableJson Encoder { get; } = new();

    /// <summary>Compact writer options with this encoder.</summary>
    public static JsonWriterOptions Compact { get; } = new() { Indented = false, SkipValidation = true, Encoder = Encoder };

    /// <summary>Indented writer options with this encoder.</summary>
    public static JsonWriterOptions Indented { get; } = new() { Indented = true, Encoder = Encoder };

    /// <inheritdoc/>
    public override int MaxOutputCharactersPerInputCharacter => 12;

    /// <inheritdoc/>
    public override bool WillEncode(int unicodeScalar) =>
        unicodeScalar is < 0x20 or '"' or '\\' or 0x2028 or 0x2029 or (>= 0xD800 and <= 0xDFFF);

    /// <inheritdoc/>
    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        var span = new ReadOnlySpan<char>(text, textLength);
        for (var i = 0; i < span.Length; i++)
        {
            var c = span[i];
            if (char.IsHighSurrogate(c) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                i++;
                continue;
            }

            if (WillEncode(c))
            {
                return i;
            }
        }

        return -1;
    }

    /// <inheritdoc/>
    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        var output = new Span<char>(buffer, bufferLength);
        ReadOnlySpan<char> text = unicodeScalar switch
        {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            _ when WillEncode(unicodeScalar) => string.Create(CultureInfo.InvariantCulture, $"\\u{unicodeScalar:X4}"),
            _ => new Rune(unicodeScalar).ToString(),
        };
        if (!text.TryCopyTo(output))
        {
            numberOfCharactersWritten = 0;
            return false;
        }

        numberOfCharactersWritten = text.Length;
        return true;
    }
}
