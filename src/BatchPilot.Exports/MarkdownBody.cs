using System.Globalization;
using System.Text;
using Markdig;
using Markdig.Syntax;

namespace BatchPilot.Exports;

/// <summary>
/// Makes a model's Markdown answer safe to embed under an item heading: its headings move down a level or two
/// (an answer's <c># Title</c> must not look like a new item), and a code fence or HTML block the model left
/// open is closed, so it cannot swallow the items that follow.
/// </summary>
internal static class MarkdownBody
{
    /// <summary>The Markdown dialect of answers: CommonMark plus pipe tables, strikethrough, autolinks and task lists.</summary>
    public static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .UsePipeTables()
        .UseEmphasisExtras(Markdig.Extensions.EmphasisExtras.EmphasisExtraOptions.Strikethrough)
        .UseAutoLinks()
        .UseTaskLists()
        .Build();

    /// <summary>Returns <paramref name="text"/> with headings shifted by <paramref name="shift"/> levels (at most 6) and open blocks closed.</summary>
    public static string Contain(string text, int shift)
    {
        if (!NeedsParse(text))
        {
            return text;
        }

        if (TryParse(text) is not { } doc)
        {
            return Fence(text);
        }


        // Edits are (position, length to replace, replacement), applied from the end so positions stay valid.
        var edits = new List<(int At, int Length, string With)>();
        foreach (var heading in doc.Descendants<HeadingBlock>())
        {
            var add = Math.Min(shift, 6 - heading.Level);
            if (add <= 0 && !heading.IsSetext)
            {
                continue;
            }

            if (!heading.IsSetext)
            {
                edits.Add((heading.Span.Start, 0, new string('#', add)));
            }
            else if (heading.Parent is MarkdownDocument)
            {
                // Title\n=== becomes ### Title: the text lines joined, the underline dropped.
                var span = text.AsSpan(heading.Span.Start, Math.Min(heading.Span.Length, text.Length - heading.Span.Start));
                var lastBreak = span.TrimEnd().LastIndexOf('\n');
                if (lastBreak > 0)
                {
                    var lines = span[..lastBreak].ToString().Replace("\r", string.Empty, StringComparison.Ordinal).Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    var hashes = new string('#', Math.Min(6, heading.Level + shift));
                    edits.Add((heading.Span.Start, span.TrimEnd().Length, hashes + " " + string.Join(' ', lines)));
                }
            }
        }

        var tail = new StringBuilder();
        if (doc.LastChild is FencedCodeBlock { ClosingFencedCharCount: 0 } open)
        {
            tail.Append(text.EndsWith('\n') ? string.Empty : "\n").Append(open.FencedChar, Math.Max(3, open.OpeningFencedCharCount));
        }
        else if (doc.LastChild is HtmlBlock html && CloserOf(html.Type) is { } closer)
        {
            var source = text.AsSpan(html.Span.Start);
            if (!source.Contains(closer.AsSpan(), StringComparison.OrdinalIgnoreCase))
            {
                tail.Append(text.EndsWith('\n') ? string.Empty : "\n").Append(closer);
            }
        }

        if (edits.Count == 0 && tail.Length == 0)
        {
            return text;
        }

        var sb = new StringBuilder(text, text.Length + tail.Length + 16);
        edits.Sort((a, b) => b.At.CompareTo(a.At));
        foreach (var (at, length, with) in edits)
        {
            sb.Remove(at, length).Insert(at, with);
        }

        if (tail.Length > 0)
        {
            sb.Append(tail);
        }

        return sb.ToString();
    }

    private static readonly System.Buffers.SearchValues<char> Suspects = System.Buffers.SearchValues.Create("#`~<");

    /// <summary>Parses an answer; null when it is nested past Markdig's depth limit (Markdig throws then).</summary>
    public static MarkdownDocument? TryParse(string text)
    {
        try
        {
            return Markdown.Parse(text, Pipeline);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The text as a code block whose fence is longer than any backtick run inside it.</summary>
    private static string Fence(string text)
    {
        var run = 0;
        var longest = 0;
        foreach (var c in text)
        {
            run = c == '`' ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }

        var fence = new string('`', Math.Max(3, longest + 1));
        return fence + "text\n" + text.TrimEnd('\n') + "\n" + fence;
    }

    /// <summary>A cheap scan: parse only answers that may hold a heading, a fence or an HTML block.</summary>
    private static bool NeedsParse(string text)
    {
        if (text.AsSpan().IndexOfAny(Suspects) >= 0)
        {
            return true;
        }

        // A setext underline: a line of only '=' or only '-' (a paragraph above it becomes a heading).
        var start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf('\n', start);
            if (end < 0)
            {
                end = text.Length;
            }

            var line = text.AsSpan(start, end - start).Trim();
            if (line.Length > 0 && (line.Trim('=').Length == 0 || line.Trim('-').Length == 0))
            {
                return true;
            }

            start = end + 1;
        }

        return false;
    }

    private static string? CloserOf(HtmlBlockType type) => type switch
    {
        HtmlBlockType.ScriptPreOrStyle => "</pre>",
        HtmlBlockType.Comment => "-->",
        HtmlBlockType.ProcessingInstruction => "?>",
        HtmlBlockType.DocumentType => ">",
        HtmlBlockType.CData => "]]>",
        _ => null,
    };

    /// <summary>Escapes text for use inside a Markdown paragraph or heading (no formatting takes effect).</summary>
    public static string Escape(string text)
    {
        var sb = (StringBuilder?)null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var special = c is '\\' or '`' or '*' or '[' or ']' or '<' or '>' or '|' or '~' or '#' or '&' or '!'
                || (c == '_' && !(i > 0 && i + 1 < text.Length && char.IsLetterOrDigit(text[i - 1]) && char.IsLetterOrDigit(text[i + 1])));
            var newline = c is '\n' or '\r';
            if (!special && !newline)
            {
                sb?.Append(c);
                continue;
            }

            sb ??= new StringBuilder(text, 0, i, text.Length + 8);
            if (newline)
            {
                sb.Append(' ');
            }
            else
            {
                sb.Append('\\').Append(c);
            }
        }

        return sb?.ToString() ?? text;
    }

    /// <summary>Inline code that survives backticks inside <paramref name="text"/>.</summary>
    public static string Code(string text)
    {
        text = text.Replace('\n', ' ').Replace('\r', ' ');
        var run = 0;
        var longest = 0;
        foreach (var c in text)
        {
            run = c == '`' ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }

        var fence = new string('`', longest + 1);
        var pad = text.StartsWith('`') || text.EndsWith('`') ? " " : string.Empty;
        return fence + pad + text + pad + fence;
    }

    /// <summary>A YAML double-quoted scalar (JSON-compatible escapes; non-ASCII kept as is).</summary>
    public static string Yaml(string? value)
    {
        if (value is null)
        {
            return "null";
        }

        var sb = new StringBuilder(value.Length + 2);
        sb.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                default:
                    if (char.IsControl(c) || c is '\uFEFF' or '\u2028' or '\u2029')
                    {
                        sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }
}
