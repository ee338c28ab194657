using System.Globalization;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.CustomProperties;
using DocumentFormat.OpenXml.VariantTypes;
using DocumentFormat.OpenXml.Wordprocessing;
using Ap = DocumentFormat.OpenXml.ExtendedProperties;

namespace BatchPilot.Exports;

/// <summary>The small parts of a Word export (styles, numbering, settings, page header, properties), built with the SDK's element classes.</summary>
internal static class WordParts
{
    public const string W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
    public const string R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    private const string ContentType = "application/vnd.openxmlformats-officedocument.wordprocessingml.";

    /// <summary>Namespace declarations put on each part's root, so children do not repeat them.</summary>
    public static readonly KeyValuePair<string, string>[] Namespaces = [new("w", W), new("r", R)];

    public const string DocumentPart = "/word/document.xml";
    public const string DocumentContentType = ContentType + "document.main+xml";

    /// <summary>Writes a finished part root element through an <see cref="OpenXmlWriter"/>.</summary>
    public static void Write(OpenXmlZip zip, string partName, string contentType, OpenXmlElement root)
    {
        using var s = zip.CreatePart(partName, contentType);
        using var w = OpenXmlWriter.Create(s);
        w.WriteStartDocument(true);
        w.WriteElement(root);
        w.Close();
    }

    /// <summary>Styles: Normal, Title, Subtitle, Heading1–6, ListParagraph, Code, CodeChar, Quote, item metadata and error, table text, Hyperlink, TableGrid.</summary>
    public static void WriteStyles(OpenXmlZip zip)
    {
        var styles = new Styles(
            new DocDefaults(
                new RunPropertiesDefault(new RunPropertiesBaseStyle(
                    new RunFonts { Ascii = "Calibri", HighAnsi = "Calibri", ComplexScript = "Calibri" },
                    new FontSize { Val = "22" },
                    new FontSizeComplexScript { Val = "22" },
                    new Languages { Val = "en-US", EastAsia = "zh-CN", Bidi = "ar-SA" })),
                new ParagraphPropertiesDefault(new ParagraphPropertiesBaseStyle(
                    new SpacingBetweenLines { After = "120", Line = "264", LineRule = LineSpacingRuleValues.Auto }))),
            Paragraph("Normal", "Normal", basedOn: null, isDefault: true),
            Paragraph("Title", "Title", pPr: [new SpacingBetweenLines { After = "60" }], rPr: [new Bold(), new Color { Val = "1F3864" }, new FontSize { Val = "48" }, new FontSizeComplexScript { Val = "48" }]),
            Paragraph("Subtitle", "Subtitle", pPr: [new SpacingBetweenLines { After = "240" }], rPr: [new Color { Val = "595959" }, new FontSize { Val = "24" }, new FontSizeComplexScript { Val = "24" }]),
            Heading(1, 32, "1F3864"),
            Heading(2, 28, "2F5496"),
            Heading(3, 26, "2F5496"),
            Heading(4, 24, "2F5496"),
            Heading(5, 22, "2F5496"),
            Heading(6, 22, "595959"),
            Paragraph("ListParagraph", "List Paragraph", pPr: [new SpacingBetweenLines { After = "60" }, new Indentation { Left = "720" }, new ContextualSpacing()]),
            Paragraph("Code", "Code", pPr:
            [
                new ParagraphBorders(
                    new TopBorder { Val = BorderValues.Single, Size = 4, Space = 4, Color = "D9D9D9" },
                    new LeftBorder { Val = BorderValues.Single, Size = 4, Space = 4, Color = "D9D9D9" },
                    new BottomBorder { Val = BorderValues.Single, Size = 4, Space = 4, Color = "D9D9D9" },
                    new RightBorder { Val = BorderValues.Single, Size = 4, Space = 4, Color = "D9D9D9" }),
                new Shading { Val = ShadingPatternValues.Clear, Color = "auto", Fill = "F2F2F2" },
                new SpacingBetweenLines { Before = "60", After = "120", Line = "240", LineRule = LineSpacingRuleValues.Auto },
            ], rPr: [new RunFonts { Ascii = "Consolas", HighAnsi = "Consolas", ComplexScript = "Consolas" }, new FontSize { Val = "19" }, new FontSizeComplexScript { Val = "19" }]),
            Paragraph("Quote", "Quote", pPr:
            [
                new ParagraphBorders(new LeftBorder { Val = BorderValues.Single, Size = 18, Space = 8, Color = "BFBFBF" }),
                new Indentation { Left = "567", Right = "567" },
            ], rPr: [new Italic(), new Color { Val = "404040" }]),
            Paragraph("ItemMeta", "Item Metadata", pPr: [new KeepNext(), new SpacingBetweenLines { After = "160" }], rPr: [new Color { Val = "767171" }, new FontSize { Val = "18" }, new FontSizeComplexScript { Val = "18" }]),
            Paragraph("ItemError", "Item Error", pPr:
            [
                new ParagraphBorders(new LeftBorder { Val = BorderValues.Single, Size = 18, Space = 8, Color = "C00000" }),
                new Indentation { Left = "284" },
            ], rPr: [new Color { Val = "C00000" }]),
            Paragraph("TableText", "Table Text", pPr: [new SpacingBetweenLines { Before = "40", After = "40" }]),
            Paragraph("TableCenter", "Table Text Centered", basedOn: "TableText", pPr: [new Justification { Val = JustificationValues.Center }]),
            Paragraph("TableRight", "Table Text Right", basedOn: "TableText", pPr: [new Justification { Val = JustificationValues.Right }]),
            Paragraph("Header", "header", pPr: [new SpacingBetweenLines { After = "0" }], rPr: [new Color { Val = "767171" }, new FontSize { Val = "16" }, new FontSizeComplexScript { Val = "16" }]),
            new Style(new StyleName { Val = "Default Paragraph Font" }, new UIPriority { Val = 1 }, new SemiHidden(), new UnhideWhenUsed())
            { Type = StyleValues.Character, StyleId = "DefaultParagraphFont", Default = true },
            new Style(
                new StyleName { Val = "Code Char" },
                new BasedOn { Val = "DefaultParagraphFont" },
                new StyleRunProperties(new RunFonts { Ascii = "Consolas", HighAnsi = "Consolas", ComplexScript = "Consolas" }, new Color { Val = "7F1F1F" }, new Shading { Val = ShadingPatternValues.Clear, Color = "auto", Fill = "F2F2F2" }))
            { Type = StyleValues.Character, StyleId = "CodeChar" },
            new Style(
                new StyleName { Val = "Hyperlink" },
                new BasedOn { Val = "DefaultParagraphFont" },
                new UnhideWhenUsed(),
                new StyleRunProperties(new Color { Val = "0563C1" }, new Underline { Val = UnderlineValues.Single }))
            { Type = StyleValues.Character, StyleId = "Hyperlink" },
            new Style(
                new StyleName { Val = "Normal Table" },
                new UIPriority { Val = 99 },
                new SemiHidden(),
                new UnhideWhenUsed(),
                new StyleTableProperties(
                    new TableIndentation { Width = 0, Type = TableWidthUnitValues.Dxa },
                    new TableCellMarginDefault(
                        new TopMargin { Width = "0", Type = TableWidthUnitValues.Dxa },
                        new TableCellLeftMargin { Width = 108, Type = TableWidthValues.Dxa },
                        new BottomMargin { Width = "0", Type = TableWidthUnitValues.Dxa },
                        new TableCellRightMargin { Width = 108, Type = TableWidthValues.Dxa })))
            { Type = StyleValues.Table, StyleId = "TableNormal", Default = true },
            new Style(
                new StyleName { Val = "Table Grid" },
                new BasedOn { Val = "TableNormal" },
                new UIPriority { Val = 39 },
                new StyleParagraphProperties(new SpacingBetweenLines { After = "0", Line = "240", LineRule = LineSpacingRuleValues.Auto }),
                new StyleTableProperties(new TableBorders(
                    new TopBorder { Val = BorderValues.Single, Size = 4, Space = 0, Color = "A6A6A6" },
                    new LeftBorder { Val = BorderValues.Single, Size = 4, Space = 0, Color = "A6A6A6" },
                    new BottomBorder { Val = BorderValues.Single, Size = 4, Space = 0, Color = "A6A6A6" },
                    new RightBorder { Val = BorderValues.Single, Size = 4, Space = 0, Color = "A6A6A6" },
                    new InsideHorizontalBorder { Val = BorderValues.Single, Size = 4, Space = 0, Color = "A6A6A6" },
                    new InsideVerticalBorder { Val = BorderValues.Single, Size = 4, Space = 0, Color = "A6A6A6" })),
                new TableStyleProperties(
                    new StyleRunProperties(new Bold()),
                    new TableStyleConditionalFormattingTableCellProperties(new Shading { Val = ShadingPatternValues.Clear, Color = "auto", Fill = "F2F2F2" }))
                { Type = TableStyleOverrideValues.FirstRow })
            { Type = StyleValues.Table, StyleId = "TableGrid" });
        Write(zip, "/word/styles.xml", ContentType + "styles+xml", styles);
        zip.AddRelationship(DocumentPart, "rIdStyles", OpenXmlZip.Rel + "styles", "styles.xml");
    }

    private static Style Paragraph(string id, string name, string? basedOn = "Normal", bool isDefault = false, OpenXmlElement[]? pPr = null, OpenXmlElement[]? rPr = null)
    {
        var style = new Style { Type = StyleValues.Paragraph, StyleId = id };
        if (isDefault)
        {
            style.Default = true;
        }

        style.AppendChild(new StyleName { Val = name });
        if (basedOn is not null)
        {
            style.AppendChild(new BasedOn { Val = basedOn });
            style.AppendChild(new NextParagraphStyle { Val = "Normal" });
        }

        style.AppendChild(new PrimaryStyle());
        if (pPr is not null)
        {
            style.AppendChild(new StyleParagraphProperties(pPr));
        }

        if (rPr is not null)
        {
            style.AppendChild(new StyleRunProperties(rPr));
        }

        return style;
    }

    private static Style Heading(int level, int halfPoints, string color)
    {
        var size = halfPoints.ToString(CultureInfo.InvariantCulture);
        var style = new Style(
            new StyleName { Val = "heading " + level.ToString(CultureInfo.InvariantCulture) },
            new BasedOn { Val = "Normal" },
            new NextParagraphStyle { Val = "Normal" },
            new UIPriority { Val = 9 },
            new PrimaryStyle(),
            new StyleParagraphProperties(
                new KeepNext(),
                new KeepLines(),
                new SpacingBetweenLines { Before = level == 1 ? "360" : "240", After = "80" },
                new OutlineLevel { Val = level - 1 }),
            new StyleRunProperties(new Bold(), new Color { Val = color }, new FontSize { Val = size }, new FontSizeComplexScript { Val = size }))
        { Type = StyleValues.Paragraph, StyleId = "Heading" + level.ToString(CultureInfo.InvariantCulture) };
        return style;
    }

    /// <summary>
    /// Numbering: abstract list 1 (bullets •, ◦, ▪ by level) used by numId 1; abstract list 2 (decimal, one
    /// number per level) used by one numId per ordered list, whose start override restarts it.
    /// The instances are streamed: a million items may hold a million ordered lists.
    /// </summary>
    public static void WriteNumbering(OpenXmlZip zip, IReadOnlyList<(int Level, int Start)> ordered)
    {
        using (var s = zip.CreatePart("/word/numbering.xml", ContentType + "numbering+xml"))
        using (var w = OpenXmlWriter.Create(s))
        {
            w.WriteStartDocument(true);
            w.WriteStartElement(new Numbering(), [], Namespaces);
            string[] bullets = ["•", "◦", "▪"];
            var bulletList = new AbstractNum(new Nsid { Val = "5B1A7C01" }, new MultiLevelType { Val = MultiLevelValues.HybridMultilevel }) { AbstractNumberId = 1 };
            var orderedList = new AbstractNum(new Nsid { Val = "5B1A7C02" }, new MultiLevelType { Val = MultiLevelValues.HybridMultilevel }) { AbstractNumberId = 2 };
            for (var lvl = 0; lvl <= 8; lvl++)
            {
                bulletList.AppendChild(Level(lvl, NumberFormatValues.Bullet, bullets[lvl % 3]));
                orderedList.AppendChild(Level(lvl, NumberFormatValues.Decimal, "%" + (lvl + 1).ToString(CultureInfo.InvariantCulture) + "."));
            }

            w.WriteElement(bulletList);
            w.WriteElement(orderedList);
            w.WriteElement(new NumberingInstance(new AbstractNumId { Val = 1 }) { NumberID = MarkdownToWord.BulletNumId });
            for (var i = 0; i < ordered.Count; i++)
            {
                var (level, start) = ordered[i];
                w.WriteElement(new NumberingInstance(
                    new AbstractNumId { Val = 2 },
                    new LevelOverride(new StartOverrideNumberingValue { Val = start }) { LevelIndex = level })
                { NumberID = MarkdownToWord.FirstOrderedNumId + i });
            }

            w.WriteEndElement();
            w.Close();
        }

        zip.AddRelationship(DocumentPart, "rIdNumbering", OpenXmlZip.Rel + "numbering", "numbering.xml");
    }

    private static Level Level(int lvl, NumberFormatValues format, string text)
    {
        var left = (720 * (lvl + 1)).ToString(CultureInfo.InvariantCulture);
        return new Level(
            new StartNumberingValue { Val = 1 },
            new NumberingFormat { Val = format },
            new LevelText { Val = text },
            new LevelJustification { Val = LevelJustificationValues.Left },
            new PreviousParagraphProperties(new Indentation { Left = left, Hanging = "360" }))
        { LevelIndex = lvl };
    }

    /// <summary>Settings: Word 2013+ compatibility mode (no "Compatibility Mode" banner in Word).</summary>
    public static void WriteSettings(OpenXmlZip zip)
    {
        var settings = new Settings(
            new DefaultTabStop { Val = 720 },
            new CharacterSpacingControl { Val = CharacterSpacingValues.DoNotCompress },
            new Compatibility(new CompatibilitySetting { Name = CompatSettingNameValues.CompatibilityMode, Uri = "http://schemas.microsoft.com/office/word", Val = "15" }));
        Write(zip, "/word/settings.xml", ContentType + "settings+xml", settings);
        zip.AddRelationship(DocumentPart, "rIdSettings", OpenXmlZip.Rel + "settings", "settings.xml");
    }

    /// <summary>The page header repeats the job id, batch ids and export time on every page.</summary>
    public static void WriteHeader(OpenXmlZip zip, string text)
    {
        var header = new Header(new Paragraph(
            new ParagraphProperties(new ParagraphStyleId { Val = "Header" }),
            new Run(new Text(XmlText.Clean(text)) { Space = SpaceProcessingModeValues.Preserve })));
        header.AddNamespaceDeclaration("w", W);
        header.AddNamespaceDeclaration("r", R);
        Write(zip, "/word/header1.xml", ContentType + "header+xml", header);
        zip.AddRelationship(DocumentPart, "rIdHeader1", OpenXmlZip.Rel + "header", "header1.xml");
    }

    /// <summary>The section: A4, 2.5 cm margins, the page header.</summary>
    public static SectionProperties Section() => new(
        new HeaderReference { Type = HeaderFooterValues.Default, Id = "rIdHeader1" },
        new PageSize { Width = 11906U, Height = 16838U },
        new PageMargin { Top = 1418, Right = 1418U, Bottom = 1418, Left = 1418U, Header = 709U, Footer = 709U, Gutter = 0U });

    /// <summary><c>docProps/app.xml</c>: the application name.</summary>
    public static void WriteAppProperties(OpenXmlZip zip)
    {
        var app = new Ap.Properties(new Ap.Application("BatchPilot"), new Ap.DocumentSecurity("0"));
        Write(zip, "/docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml", app);
        zip.AddRelationship("/", "rIdApp", OpenXmlZip.Rel + "extended-properties", "docProps/app.xml");
    }

    /// <summary>A job's metadata as custom properties: text, numbers (<see cref="long"/>) and times (<see cref="DateTimeOffset"/>).</summary>
    public static IReadOnlyList<(string Name, object Value)> CustomProperties(ExportHeader h)
    {
        var j = h.Job;
        var c = h.Counts;
        var props = new List<(string Name, object Value)>
        {
            ("BatchPilot.JobId", j.Id),
            ("BatchPilot.JobName", j.Name),
            ("BatchPilot.Provider", j.Spec.Provider),
            ("BatchPilot.Model", j.Spec.Model),
            ("BatchPilot.Mode", ExportHeader.ModeName(j.Spec.Mode)),
            ("BatchPilot.Status", ExportHeader.StatusName(j.Status)),
            ("BatchPilot.BatchIds", string.Join(' ', h.BatchIds)),
            ("BatchPilot.CreatedAt", j.CreatedAt),
        };
        if (j.CompletedAt is { } done)
        {
            props.Add(("BatchPilot.CompletedAt", done));
        }

        props.Add(("BatchPilot.ExportedAt", h.ExportedAt));
        props.Add(("BatchPilot.Items", c.Total));
        props.Add(("BatchPilot.Succeeded", c.Succeeded));
        props.Add(("BatchPilot.NotSucceeded", c.NotSucceeded));
        props.Add(("BatchPilot.InputTokens", c.InputTokens));
        props.Add(("BatchPilot.CachedTokens", c.CachedTokens));
        props.Add(("BatchPilot.OutputTokens", c.OutputTokens));
        return props;
    }

    /// <summary><c>docProps/custom.xml</c>: the job's metadata as named custom properties (File › Properties › Custom in Word).</summary>
    public static void WriteCustomProperties(OpenXmlZip zip, ExportHeader h) => WriteCustomProperties(zip, CustomProperties(h));

    /// <summary><c>docProps/custom.xml</c>: metadata as named custom properties.</summary>
    public static void WriteCustomProperties(OpenXmlZip zip, IReadOnlyList<(string Name, object Value)> properties)
    {
        var props = new Properties();
        var pid = 2;
        foreach (var (name, value) in properties)
        {
            OpenXmlElement element = value switch
            {
                long n when n is >= int.MinValue and <= int.MaxValue => new VTInt32(n.ToString(CultureInfo.InvariantCulture)),
                long n => new VTDouble(n.ToString(CultureInfo.InvariantCulture)),
                DateTimeOffset at => new VTFileTime(ExportHeader.Iso(at)),
                _ => new VTLPWSTR(XmlText.Clean(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty)),
            };
            props.AppendChild(new CustomDocumentProperty(element) { FormatId = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}", PropertyId = pid++, Name = name });
        }

        Write(zip, "/docProps/custom.xml", "application/vnd.openxmlformats-officedocument.custom-properties+xml", props);
        zip.AddRelationship("/", "rIdCustom", OpenXmlZip.Rel + "custom-properties", "docProps/custom.xml");
    }
}
