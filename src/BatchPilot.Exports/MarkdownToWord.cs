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
/// Renders Markdown (parsed by Markdig) as WordprocessingML through a forward-only <see cref="OpenXmlWriter"/>:
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

    private readonly OpenXmlWriter _w;
    private readonly WordLinks _links;
    private readonly List<(int Level, int Start)> _ordered = [];
    private readonly Dictionary<(string? Style, int NumId, int Level, int Indent, bool Border), ParagraphProperties> _pPr = [];
    private readonly Dictionary<Format, RunProperties?> _rPr = [];

    public MarkdownToWord(OpenXmlWriter writer, WordLinks links)
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
        _w.WriteEndElement();
    }

    /// <summary>Writes a paragraph made of a bold label and a plain value.</summary>
    public void LabelledParagraph(string? style, string label, string value)
    {
        StartParagraph(style);
        Text(label, Format.Bold);
        Text(value, Format.None);
        _w.WriteEndElement();
    }

    /// <summary>Writes a two-column table of label/value pairs (the job's header block).</summary>
    public void FieldTable(IReadOnlyList<(string Label, string Value)> fields)
    {
        StartTable(2, [1800, 7200], headerRow: false);
        foreach (var (label, value) in fields)
        {
            _w.WriteStartElement(new WTableRow());
            Cell(1800, () => Paragraph(null, label, bold: true));
            Cell(7200, () => Paragraph(null, value));
            _w.WriteEndElement();
        }

        _w.WriteEndElement();
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
            _w.WriteEndElement();
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
                _w.WriteEndElement();
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
                _w.WriteEndElement();
                return true;

            case ParagraphBlock p:
                StartParagraph(ParagraphStyle(ctx), numId, ctx.Depth, numId == 0 ? ctx.Indent : 0);
                Inlines(p.Inline, ctx.Header ? Format.Bold : Format.None);
                _w.WriteEndElement();
                return true;

            case CodeBlock code:
                // Fenced and indented code: one paragraph, lines joined by breaks, so the shading is one block.
                StartParagraph("Code", numId, ctx.Depth, numId == 0 ? ctx.Indent : 0);
                Text(JoinLines(code), Format.None, code: true);

                _w.WriteEndElement();
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
                    _w.WriteEndElement();
                }

                return true;

            case ThematicBreakBlock:
                StartParagraph(ParagraphStyle(ctx), numId, ctx.Depth, ctx.Indent, border: true);
                _w.WriteEndElement();
                return true;

            case MdTable table:
                if (numId != 0)
                {
                    StartParagraph("ListParagraph", numId, ctx.Depth, 0);
                    _w.WriteEndElement();
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

                _w.WriteEndElement();
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
                _w.WriteEndElement();
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

            _w.WriteStartElement(new WTableRow());
            if (row.IsHeader)
            {
                _w.WriteElement(new TableRowProperties(new TableHeader()));
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
                        _w.WriteEndElement();
                    }
                });
            }

            _w.WriteEndElement();
        }

        _w.WriteEndElement();
    }

    private void StartTable(int columns, int[] widths, bool headerRow)
    {
        _w.WriteStartElement(new WTable());
        _w.WriteElement(new TableProperties(
            new TableStyle { Val = "TableGrid" },
            new TableWidth { Width = "5000", Type = TableWidthUnitValues.Pct },
            new TableLook { Val = headerRow ? "04A0" : "0480", FirstRow = headerRow, LastRow = false, FirstColumn = false, LastColumn = false, NoHorizontalBand = false, NoVerticalBand = true }));
        var grid = new TableGrid();
        for (var i = 0; i < columns; i++)
        {
            grid.AppendChild(new GridColumn { Width = widths[i].ToString(CultureInfo.InvariantCulture) });
        }

        _w.WriteElement(grid);
    }

    private void Cell(int width, Action content)
    {
        _w.WriteStartElement(new WTableCell());
        _w.WriteElement(new TableCellProperties(new TableCellWidth { Width = width.ToString(CultureInfo.InvariantCulture), Type = TableWidthUnitValues.Dxa }));
        content();
        _w.WriteEndElement();
    }

    private void EmptyParagraph()
    {
        StartParagraph(null);
        _w.WriteEndElement();
    }

    private void StartParagraph(string? style, int numId = 0, int level = 0, int indent = 0, bool border = false)
    {
        _w.WriteStartElement(new Paragraph());
        var key = (style, numId == 0 ? 0 : numId, numId == 0 ? 0 : level, indent, border);
        if (!_pPr.TryGetValue(key, out var pPr))
        {
            pPr = new ParagraphProperties();
            if (style is not null)
            {
                pPr.AppendChild(new ParagraphStyleId { Val = style });
            }

            if (numId != 0)
            {
                pPr.AppendChild(new NumberingProperties(new NumberingLevelReference { Val = level }, new NumberingId { Val = numId }));
            }

            if (border)
            {
                pPr.AppendChild(new ParagraphBorders(new BottomBorder { Val = BorderValues.Single, Size = 6, Space = 1, Color = "A6A6A6" }));
            }

            if (indent > 0)
            {
                pPr.AppendChild(new Indentation { Left = indent.ToString(CultureInfo.InvariantCulture) });
            }

            // Paragraph properties of the numbered paragraphs of a million items would fill memory: cache only the few shared ones.
            if (numId <= BulletNumId)
            {
                _pPr[key] = pPr;
            }
        }

        if (pPr.HasChildren)
        {
            _w.WriteElement(pPr);
        }
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
                    _w.WriteStartElement(new Run());
                    _w.WriteElement(new Break());
                    _w.WriteEndElement();
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
                    _w.WriteStartElement(new Run());
                    _w.WriteElement(new Break());
                    _w.WriteEndElement();
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
            _w.WriteStartElement(new Hyperlink { Id = id, History = true });
        }
        else
        {
            _w.WriteStartElement(new SimpleField { Instruction = " HYPERLINK \"" + uri + "\" " });
        }

        content(format | Format.Link);
        _w.WriteEndElement();
    }

    private void Text(string text, Format format, bool code = false)
    {
        if (text.Length == 0)
        {
            return;
        }

        text = XmlText.Clean(text);
        _w.WriteStartElement(new Run());
        if (RunProperties(format) is { } rPr)
        {
            _w.WriteElement(rPr);
        }

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
                _w.WriteStartElement(new Text { Space = SpaceProcessingModeValues.Preserve });
                _w.WriteString(text[start..i]);
                _w.WriteEndElement();
            }

            if (i < text.Length)
            {
                if (text[i] == '\t')
                {
                    _w.WriteElement(new TabChar());
                }
                else if (text[i] == '\n' || (!code && (i + 1 == text.Length || text[i + 1] != '\n')))
                {
                    // CR LF is one break; a lone CR is one too, except in code lines (their CR is a line ending).
                    _w.WriteElement(new Break());
                }
            }

            start = i + 1;
        }

        _w.WriteEndElement();
    }

    private RunProperties? RunProperties(Format format)
    {
        if (_rPr.TryGetValue(format, out var cached))
        {
            return cached;
        }

        RunProperties? rPr = null;
        if (format != Format.None)
        {
            // Children in schema order: rStyle, b, i, strike.
            rPr = new RunProperties();
            if ((format & Format.Code) != 0)
            {
                rPr.AppendChild(new RunStyle { Val = "CodeChar" });
            }
            else if ((format & Format.Link) != 0)
            {
                rPr.AppendChild(new RunStyle { Val = "Hyperlink" });
            }

            if ((format & Format.Bold) != 0)
            {
                rPr.AppendChild(new Bold());
            }

            if ((format & Format.Italic) != 0)
            {
                rPr.AppendChild(new Italic());
            }

            if ((format & Format.Strike) != 0)
            {
                rPr.AppendChild(new Strike());
            }
        }

        _rPr[format] = rPr;
        return rPr;
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
