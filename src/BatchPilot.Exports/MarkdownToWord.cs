using System.Globalization;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Wordprocessing;
using Markdig;
using Markdig.Extensions.Tables;
using Markdig.Extensions.TaskLists;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using MdTable = Markdig.Extensions.Tables.Table;
using MdTableCell = Markdig.Extensions.Tables.TableCell;
using MdTableRow = Markdig.Extensions.Tables.TableRow;
using WTable = DocumentFormat.OpenXml.Wordprocessing.Table;
using WTableCell = DocumentFormat.OpenXml.Wordprocessing.TableCell;
using WTableRow = DocumentFormat.OpenXml.Wordprocessing.TableRow;

namespace BatchPilot.Exports;

/// <summary>
/// Renders Markdown (parsed by Markdig) as WordprocessingML through a forward-only <see cref="PartWriter"/>:
/// headings, paragraphs, bold/italic/strikethrough, inline code, code blocks, nested bullet and numbered lists,
/// pipe tables, links, block quotes and thematic breaks map to the styles defined in <see cref="WordParts"/>.
/// Nothing of the body is kept in memory but the ordered lists' start numbers and the distinct link targets.
/// </summary>
internal sealed class MarkdownToWord
{
    /// <summary>numId of the bullet list instance (shared: bullets never restart).</summary>
    public const int BulletNumId = 1;

    /// <summary>numId of the first ordered list; each ordered list gets its own instance so it restarts.</summary>
    public const int FirstOrderedNumId = 2;

    private const int MaxLevel = 8;

    /// <summary>Deeper block or inline nesting is written as plain text: the renderer recurses, and an answer is untrusted input.</summary>
    private const int MaxNesting = 48;

    private int _nesting;

    private const string W = PartWriter.W;

    private readonly PartWriter _w;
    private readonly WordLinks _links;
    private readonly List<(int Level, int Start)> _ordered = [];

    public MarkdownToWord(PartWriter writer, WordLinks links)
    {
        _w = writer;
        _links = links;
    }

    /// <summary>Ordered list instances in numId order (from <see cref="FirstOrderedNumId"/>): the level and start number of each.</summary>
    public IReadOnlyList<(int Level, int Start)> OrderedLists => _ordered;

    [Flags]
    private enum Format
    {
        None = 0,
        Bold = 1,
        Italic = 2,
        Strike = 4,
        Code = 8,
        Link = 16,
    }

    private readonly record struct Context(string? Style, int Depth, bool Quote, bool Header)
    {
        public int Indent => Depth < 0 ? 0 : 720 * (Depth + 1);
    }

    /// <summary>Writes a paragraph of plain text (tabs and line breaks kept).</summary>
    public void Paragraph(string? style, string text, bool bold = false)
    {
        StartParagraph(style);
        Text(text, bold ? Format.Bold : Format.None);
        _w.End();
    }

    /// <summary>Writes a paragraph made of a bold label and a plain value.</summary>
    public void LabelledParagraph(string? style, string label, string value)
    {
        StartParagraph(style);
        Text(label, Format.Bold);
        Text(value, Format.None);
        _w.End();
    }

    /// <summary>Writes a two-column table of label/value pairs (the job's header block).</summary>
    public void FieldTable(IReadOnlyList<(string Label, string Value)> fields)
    {
        StartTable(2, [1800, 7200], headerRow: false);
        foreach (var (label, value) in fields)
        {
            _w.Start(new WTableRow());
            Cell(1800, () => Paragraph(null, label, bold: true));
            Cell(7200, () => Paragraph(null, value));
            _w.End();
        }

        _w.End();
        EmptyParagraph();
    }

    /// <summary>Renders a Markdown text; its headings move down <paramref name="headingShift"/> levels (at most Heading6).</summary>
    public void Markdown(string markdown, int headingShift)
    {
        if (MarkdownBody.TryParse(markdown) is not { } doc)
        {
            // Nested past Markdig's depth limit: the answer as plain text, line by line.
            StartParagraph(null);
            Text(markdown, Format.None);
            _w.End();
            return;
        }

        var any = false;
        foreach (var block in doc)
        {
            any |= Block(block, new Context(null, -1, false, false), headingShift);
        }

        if (!any)
        {
            EmptyParagraph();
        }
    }

    /// <summary>Renders one block; returns false when it wrote nothing (link definitions, blank lines).</summary>
    private bool Block(Block block, Context ctx, int shift, int numId = 0)
    {
        _nesting++;
        try
        {
            if (_nesting > MaxNesting)
            {
                StartParagraph(ParagraphStyle(ctx), numId, ctx.Depth, numId == 0 ? ctx.Indent : 0);
                Text(PlainText(block), Format.None);
                _w.End();
                return true;
            }

            return RenderBlock(block, ctx, shift, numId);
        }
        finally
        {
            _nesting--;
        }
    }

    private bool RenderBlock(Block block, Context ctx, int shift, int numId)
    {
        switch (block)
        {
            case HeadingBlock h:
                StartParagraph("Heading" + Math.Min(6, h.Level + shift).ToString(CultureInfo.InvariantCulture), numId, ctx.Depth, numId == 0 ? ctx.Indent : 0);
                Inlines(h.Inline, Format.None);
                _w.End();
                return true;

            case ParagraphBlock p:
                StartParagraph(ParagraphStyle(ctx), numId, ctx.Depth, numId == 0 ? ctx.Indent : 0);
                Inlines(p.Inline, ctx.Header ? Format.Bold : Format.None);
                _w.End();
                return true;

            case CodeBlock code:
                // Fenced and indented code: one paragraph, lines joined by breaks, so the shading is one block.
                StartParagraph("Code", numId, ctx.Depth, numId == 0 ? ctx.Indent : 0);
                Text(JoinLines(code), Format.None, code: true);

                _w.End();
                return true;

            case ListBlock list:
                List(list, ctx, shift);
                return true;

            case QuoteBlock quote:
                var any = false;
                foreach (var child in quote)
                {
                    any |= Block(child, ctx with { Quote = true }, shift, any ? 0 : numId);
                }

                if (!any)
                {
                    StartParagraph("Quote", numId, ctx.Depth, ctx.Indent);
                    _w.End();
                }

                return true;

            case ThematicBreakBlock:
                StartParagraph(ParagraphStyle(ctx), numId, ctx.Depth, ctx.Indent, border: true);
                _w.End();
                return true;

            case MdTable table:
                if (numId != 0)
                {
                    StartParagraph("ListParagraph", numId, ctx.Depth, 0);
                    _w.End();
                }

                Table(table, shift);

                // Word puts no space under a table: an empty paragraph keeps the next block off its border.
                EmptyParagraph();
                return true;

            case LinkReferenceDefinitionGroup or LinkReferenceDefinition or BlankLineBlock:
                return false;

            case LeafBlock leaf:
                // HTML blocks and anything else: its text as written.
                StartParagraph(ParagraphStyle(ctx), numId, ctx.Depth, numId == 0 ? ctx.Indent : 0);
                if (leaf.Inline is not null)
                {
                    Inlines(leaf.Inline, Format.None);
                }
                else
                {
                    Text(JoinLines(leaf), Format.None, code: true);
                }

                _w.End();
                return true;

            case ContainerBlock container:
                var wrote = false;
                foreach (var child in container)
                {
                    wrote |= Block(child, ctx, shift, wrote ? 0 : numId);
                }

                return wrote;

            default:
                return false;
        }
    }

    private static string JoinLines(LeafBlock leaf)
    {
        var lines = leaf.Lines;
        var parts = new string[lines.Count];
        for (var i = 0; i < lines.Count; i++)
        {
            parts[i] = lines.Lines[i].Slice.ToString();
        }

        return string.Join('\n', parts);
    }

    private static string? ParagraphStyle(Context ctx) => ctx.Quote ? "Quote" : ctx.Style ?? (ctx.Depth >= 0 ? "ListParagraph" : null);

    private void List(ListBlock list, Context ctx, int shift)
    {
        var depth = Math.Min(MaxLevel, ctx.Depth + 1);
        int numId;
        if (list.IsOrdered)
        {
            var start = int.TryParse(list.OrderedStart, NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 1;
            _ordered.Add((depth, start));
            numId = FirstOrderedNumId + _ordered.Count - 1;
        }
        else
        {
            numId = BulletNumId;
        }

        var inner = ctx with { Depth = depth, Style = null };
        foreach (var child in list)
        {
            var item = (ListItemBlock)child;
            var numbered = false;
            foreach (var block in item)
            {
                // The item's first block carries the number or bullet; the rest are indented under it.
                numbered |= Block(block, inner, shift, numbered ? 0 : numId);
            }

            if (!numbered)
            {
                StartParagraph(ParagraphStyle(inner), numId, depth, 0);
                _w.End();
            }
        }
    }

    private void Table(MdTable table, int shift)
    {
        var columns = table.ColumnDefinitions.Count;
        foreach (var row in table)
        {
            if (row is MdTableRow r)
            {
                columns = Math.Max(columns, r.Count);
            }
        }

        columns = Math.Max(1, columns);
        var width = 9000 / columns;
        var widths = Enumerable.Repeat(width, columns).ToArray();
        StartTable(columns, widths, headerRow: true);
        foreach (var block in table)
        {
            if (block is not MdTableRow row)
            {
                continue;
            }

            _w.Start(new WTableRow());
            if (row.IsHeader)
            {
                _w.Element(new TableRowProperties(new TableHeader()));
            }

            for (var c = 0; c < columns; c++)
            {
                var cell = c < row.Count ? row[c] as MdTableCell : null;
                var align = c < table.ColumnDefinitions.Count ? table.ColumnDefinitions[c].Alignment : null;
                Cell(width, () =>
                {
                    var cellCtx = new Context(align switch { TableColumnAlign.Center => "TableCenter", TableColumnAlign.Right => "TableRight", _ => "TableText" }, -1, false, row.IsHeader);
                    var wrote = false;
                    if (cell is not null)
                    {
                        foreach (var b in cell)
                        {
                            wrote |= Block(b, cellCtx, shift);
                        }
                    }

                    if (!wrote)
                    {
                        StartParagraph(cellCtx.Style);
                        _w.End();
                    }
                });
            }

            _w.End();
        }

        _w.End();
    }

    private void StartTable(int columns, int[] widths, bool headerRow)
    {
        _w.Start(new WTable());
        _w.Element(new TableProperties(
            new TableStyle { Val = "TableGrid" },
            new TableWidth { Width = "5000", Type = TableWidthUnitValues.Pct },
            new TableLook { Val = headerRow ? "04A0" : "0480", FirstRow = headerRow, LastRow = false, FirstColumn = false, LastColumn = false, NoHorizontalBand = false, NoVerticalBand = true }));
        var grid = new TableGrid();
        for (var i = 0; i < columns; i++)
        {
            grid.AppendChild(new GridColumn { Width = widths[i].ToString(CultureInfo.InvariantCulture) });
        }

        _w.Element(grid);
    }

    private void Cell(int width, Action content)
    {
        _w.Start(new WTableCell());
        _w.Element(new TableCellProperties(new TableCellWidth { Width = width.ToString(CultureInfo.InvariantCulture), Type = TableWidthUnitValues.Dxa }));
        content();
        _w.End();
    }

    private void EmptyParagraph()
    {
        StartParagraph(null);
        _w.End();
    }

    private void StartParagraph(string? style, int numId = 0, int level = 0, int indent = 0, bool border = false)
    {
        // <w:p><w:pPr><w:pStyle/><w:numPr><w:ilvl/><w:numId/></w:numPr><w:pBdr><w:bottom/></w:pBdr><w:ind/></w:pPr>: children in schema order.
        _w.Start("w", "p", W);
        if (style is null && numId == 0 && !border && indent <= 0)
        {
            return;
        }

        _w.Start("w", "pPr", W);
        if (style is not null)
        {
            _w.Empty("w", "pStyle", W, "val", style);
        }

        if (numId != 0)
        {
            _w.Start("w", "numPr", W);
            _w.Empty("w", "ilvl", W, "val", level.ToString(CultureInfo.InvariantCulture));
            _w.Empty("w", "numId", W, "val", numId.ToString(CultureInfo.InvariantCulture));
            _w.End();
        }

        if (border)
        {
            _w.Start("w", "pBdr", W);
            _w.Start("w", "bottom", W);
            _w.Attribute("w", "val", W, "single");
            _w.Attribute("w", "color", W, "A6A6A6");
            _w.Attribute("w", "sz", W, "6");
            _w.Attribute("w", "space", W, "1");
            _w.End();
            _w.End();
        }

        if (indent > 0)
        {
            _w.Empty("w", "ind", W, "left", indent.ToString(CultureInfo.InvariantCulture));
        }

        _w.End();
    }

    private void Inlines(ContainerInline? container, Format format)
    {
        if (container is null)
        {
            return;
        }

        _nesting++;
        try
        {
            if (_nesting > MaxNesting)
            {
                Text(string.Concat(container.Descendants<LiteralInline>().Select(l => l.Content.ToString())), format);
                return;
            }

            foreach (var inline in container)
            {
                Inline(inline, format);
            }
        }
        finally
        {
            _nesting--;
        }
    }

    /// <summary>The literal text under a block, without recursion.</summary>
    private static string PlainText(Block block)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var node in block.Descendants().Prepend(block))
        {
            if (node is LeafBlock { Inline: null } leaf)
            {
                sb.Append(JoinLines(leaf)).Append(' ');
            }
            else if (node is LeafBlock { Inline: { } inline })
            {
                foreach (var literal in inline.Descendants<LiteralInline>())
                {
                    sb.Append(literal.Content.ToString());
                }

                sb.Append(' ');
            }
        }

        return sb.ToString().TrimEnd();
    }

    private void Inline(Inline inline, Format format)
    {
        switch (inline)
        {
            case LiteralInline literal:
                Text(literal.Content.ToString(), format);
                break;

            case CodeInline code:
                Text(code.Content, format | Format.Code);
                break;

            case EmphasisInline em:
                var f = format;
                if (em.DelimiterChar is '*' or '_')
                {
                    f |= em.DelimiterCount >= 2 ? Format.Bold : Format.Italic;
                }
                else if (em.DelimiterChar == '~' && em.DelimiterCount == 2)
                {
                    f |= Format.Strike;
                }

                Inlines(em, f);
                break;

            case LinkInline link:
                Link(link.Url, link.IsImage ? "image" : null, format, f =>
                {
                    if (link.FirstChild is null)
                    {
                        Text(link.Url ?? string.Empty, f);
                    }
                    else
                    {
                        Inlines(link, f);
                    }
                });
                break;

            case AutolinkInline auto:
                Link(auto.IsEmail ? "mailto:" + auto.Url : auto.Url, null, format, f => Text(auto.Url, f));
                break;

            case LineBreakInline br:
                if (br.IsHard)
                {
                    HardBreak();
                }
                else
                {
                    Text(" ", format);
                }

                break;

            case HtmlEntityInline entity:
                Text(entity.Transcoded.ToString(), format);
                break;

            case HtmlInline html:
                if (html.Tag.StartsWith("<br", StringComparison.OrdinalIgnoreCase))
                {
                    HardBreak();
                }
                else
                {
                    Text(html.Tag, format);
                }

                break;

            case TaskList task:
                Text(task.Checked ? "☑ " : "☐ ", format);
                break;

            case ContainerInline container:
                Inlines(container, format);
                break;

            default:
                Text(inline.ToString() ?? string.Empty, format);
                break;
        }
    }

    /// <summary>
    /// A hyperlink: a relationship for absolute http(s)/mailto/ftp targets (deduplicated, up to
    /// <see cref="WordLinks.MaxRelationships"/>), a HYPERLINK field past that; other targets stay plain text.
    /// </summary>
    private void Link(string? url, string? prefix, Format format, Action<Format> content)
    {
        var uri = WordLinks.Normalize(url);
        if (prefix is not null)
        {
            Text(prefix + ": ", format);
        }

        if (uri is null)
        {
            // Not a link Word can follow: the text alone, not styled as a link.
            content(format);
            return;
        }

        if (_links.IdOf(uri) is { } id)
        {
            _w.Start(new Hyperlink { Id = id, History = true });
        }
        else
        {
            _w.Start(new SimpleField { Instruction = " HYPERLINK \"" + uri + "\" " });
        }

        content(format | Format.Link);
        _w.End();
    }

    /// <summary>A run holding one line break.</summary>
    private void HardBreak()
    {
        _w.Start("w", "r", W);
        _w.Empty("w", "br", W);
        _w.End();
    }

    private void Text(string text, Format format, bool code = false)
    {
        if (text.Length == 0)
        {
            return;
        }

        text = XmlText.Clean(text);
        _w.Start("w", "r", W);
        RunProperties(format);

        // Tabs and line feeds become Word's own elements; the rest is one text node that keeps its spaces.
        var start = 0;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] is not ('\t' or '\n' or '\r'))
            {
                continue;
            }

            if (i > start)
            {
                _w.Start("w", "t", W);
                _w.PreserveSpace();
                _w.Text(start == 0 && i == text.Length ? text : text[start..i]);
                _w.End();
            }

            if (i < text.Length)
            {
                if (text[i] == '\t')
                {
                    _w.Empty("w", "tab", W);
                }
                else if (text[i] == '\n' || (!code && (i + 1 == text.Length || text[i + 1] != '\n')))
                {
                    // CR LF is one break; a lone CR is one too, except in code lines (their CR is a line ending).
                    _w.Empty("w", "br", W);
                }
            }

            start = i + 1;
        }

        _w.End();
    }

    /// <summary>The run's <c>&lt;w:rPr&gt;</c>, children in schema order: rStyle, b, i, strike; nothing for plain text.</summary>
    private void RunProperties(Format format)
    {
        if (format == Format.None)
        {
            return;
        }

        _w.Start("w", "rPr", W);
        if ((format & Format.Code) != 0)
        {
            _w.Empty("w", "rStyle", W, "val", "CodeChar");
        }
        else if ((format & Format.Link) != 0)
        {
            _w.Empty("w", "rStyle", W, "val", "Hyperlink");
        }

        if ((format & Format.Bold) != 0)
        {
            _w.Empty("w", "b", W);
        }

        if ((format & Format.Italic) != 0)
        {
            _w.Empty("w", "i", W);
        }

        if ((format & Format.Strike) != 0)
        {
            _w.Empty("w", "strike", W);
        }

        _w.End();
    }
}

/// <summary>Hyperlink targets of the main document part: one relationship per distinct target, up to a bound.</summary>
internal sealed class WordLinks
{
    /// <summary>Distinct link targets that get a relationship; later ones become HYPERLINK fields, so memory stays bounded.</summary>
    public const int MaxRelationships = 10_000;

    private readonly Dictionary<string, string> _ids = new(StringComparer.Ordinal);

    /// <summary>Relationships to write, in creation order.</summary>
    public List<(string Id, string Target)> All { get; } = [];

    /// <summary>The relationship id of a target, or null when the bound is reached.</summary>
    public string? IdOf(string uri)
    {
        if (_ids.TryGetValue(uri, out var id))
        {
            return id;
        }

        if (_ids.Count >= MaxRelationships)
        {
            return null;
        }

        id = "rIdL" + (_ids.Count + 1).ToString(CultureInfo.InvariantCulture);
        _ids[uri] = id;
        All.Add((id, uri));
        return id;
    }

    /// <summary>An absolute http, https, mailto or ftp URI in escaped form, or null for anything else (relative links, anchors, scripts).</summary>
    public static string? Normalize(string? url)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri))
        {
            return null;
        }

        if (uri.Scheme is not ("http" or "https" or "mailto" or "ftp"))
        {
            return null;
        }

        var text = uri.AbsoluteUri;
        return text.Contains('"', StringComparison.Ordinal) || XmlText.Clean(text) != text ? null : text;
    }
}
