using System.IO.Compression;
using System.Text;
using System.Xml;

namespace BatchPilot.Exports;

/// <summary>
/// A forward-only Open Packaging Conventions writer: parts go straight into a <see cref="ZipArchive"/> in
/// <see cref="ZipArchiveMode.Create"/> mode, one after the other; content types and relationships are
/// written at the end. Why not <c>WordprocessingDocument.Create</c>: the SDK's package needs a readable
/// stream and then runs the zip in update mode, which holds every part uncompressed in memory (620 MB
/// for a million short paragraphs). The part contents are written with the SDK's <c>OpenXmlWriter</c> or, for the large
/// parts, <see cref="PartWriter"/>.
/// </summary>
internal sealed class OpenXmlZip : IDisposable
{
    /// <summary>Relationship type namespace of officeDocument relationships.</summary>
    public const string Rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/";

    private const string ContentTypesNs = "http://schemas.openxmlformats.org/package/2006/content-types";
    private const string RelationshipsNs = "http://schemas.openxmlformats.org/package/2006/relationships";

    private readonly ZipArchive _zip;
    private readonly List<(string Part, string ContentType)> _overrides = [];
    private readonly Dictionary<string, List<(string Id, string Type, string Target, bool External)>> _rels = new(StringComparer.Ordinal);

    public OpenXmlZip(Stream stream) => _zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true, Encoding.UTF8);

    /// <summary>Opens a new part for writing (<paramref name="partName"/> like <c>/word/document.xml</c>); dispose the stream before the next part.</summary>
    public Stream CreatePart(string partName, string contentType, CompressionLevel level = CompressionLevel.Optimal)
    {
        _overrides.Add((partName, contentType));
        return _zip.CreateEntry(partName.TrimStart('/'), level).Open();
    }

    /// <summary>Adds a relationship from a part (<c>/</c> for the package) to a target.</summary>
    public void AddRelationship(string sourcePart, string id, string type, string target, bool external = false)
    {
        if (!_rels.TryGetValue(sourcePart, out var list))
        {
            _rels[sourcePart] = list = [];
        }

        list.Add((id, type, target, external));
    }

    /// <summary>Writes the relationship parts and <c>[Content_Types].xml</c>; call once, after the last part.</summary>
    public void Complete()
    {
        foreach (var (source, list) in _rels)
        {
            var relsName = source == "/" ? "_rels/.rels" : $"{Path.GetDirectoryName(source)!.Replace('\\', '/').TrimStart('/')}/_rels/{Path.GetFileName(source)}.rels";
            using var s = _zip.CreateEntry(relsName, CompressionLevel.Optimal).Open();
            using var x = XmlWriter.Create(s, Settings);
            x.WriteStartDocument(true);
            x.WriteStartElement("Relationships", RelationshipsNs);
            foreach (var (id, type, target, external) in list)
            {
                x.WriteStartElement("Relationship", RelationshipsNs);
                x.WriteAttributeString("Id", id);
                x.WriteAttributeString("Type", type);
                x.WriteAttributeString("Target", target);
                if (external)
                {
                    x.WriteAttributeString("TargetMode", "External");
                }

                x.WriteEndElement();
            }

            x.WriteEndElement();
        }

        using (var s = _zip.CreateEntry("[Content_Types].xml", CompressionLevel.Optimal).Open())
        using (var x = XmlWriter.Create(s, Settings))
        {
            x.WriteStartDocument(true);
            x.WriteStartElement("Types", ContentTypesNs);
            x.WriteStartElement("Default", ContentTypesNs);
            x.WriteAttributeString("Extension", "rels");
            x.WriteAttributeString("ContentType", "application/vnd.openxmlformats-package.relationships+xml");
            x.WriteEndElement();
            x.WriteStartElement("Default", ContentTypesNs);
            x.WriteAttributeString("Extension", "xml");
            x.WriteAttributeString("ContentType", "application/xml");
            x.WriteEndElement();
            foreach (var (part, type) in _overrides)
            {
                x.WriteStartElement("Override", ContentTypesNs);
                x.WriteAttributeString("PartName", part);
                x.WriteAttributeString("ContentType", type);
                x.WriteEndElement();
            }

            x.WriteEndElement();
        }
    }

    /// <summary>XML writer settings for hand-written parts: UTF-8 without BOM.</summary>
    public static XmlWriterSettings Settings { get; } = new() { Encoding = new UTF8Encoding(false), CloseOutput = false };

    /// <summary>Writes <c>docProps/core.xml</c> and relates it to the package.</summary>
    public void WriteCoreProperties(string title, string subject, string keywords, string description, DateTimeOffset created, DateTimeOffset modified)
    {
        const string cp = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties";
        const string dc = "http://purl.org/dc/elements/1.1/";
        const string dcterms = "http://purl.org/dc/terms/";
        const string xsi = "http://www.w3.org/2001/XMLSchema-instance";
        using (var s = CreatePart("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"))
        using (var x = XmlWriter.Create(s, Settings))
        {
            x.WriteStartDocument(true);
            x.WriteStartElement("cp", "coreProperties", cp);
            x.WriteAttributeString("xmlns", "dc", null, dc);
            x.WriteAttributeString("xmlns", "dcterms", null, dcterms);
            x.WriteAttributeString("xmlns", "xsi", null, xsi);
            x.WriteElementString("title", dc, XmlText.Clean(title));
            x.WriteElementString("subject", dc, XmlText.Clean(subject));
            x.WriteElementString("creator", dc, "BatchPilot");
            x.WriteElementString("keywords", cp, XmlText.Clean(keywords));
            x.WriteElementString("description", dc, XmlText.Clean(description));
            x.WriteElementString("lastModifiedBy", cp, "BatchPilot");
            foreach (var (name, at) in new[] { ("created", created), ("modified", modified) })
            {
                x.WriteStartElement(name, dcterms);
                x.WriteAttributeString("type", xsi, "dcterms:W3CDTF");
                x.WriteString(ExportHeader.Iso(at));
                x.WriteEndElement();
            }

            x.WriteEndElement();
        }

        AddRelationship("/", "rIdCore", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties", "docProps/core.xml");
    }

    public void Dispose() => _zip.Dispose();
}

/// <summary>Text made safe for XML 1.0: characters XML cannot carry (most C0 controls, lone surrogates, U+FFFE/F) become U+FFFD.</summary>
internal static class XmlText
{
    public static string Clean(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        var i = FirstInvalid(text);
        if (i < 0)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length);
        sb.Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[i + 1]);
                i++;
            }
            else
            {
                sb.Append(IsValid(c) ? c : '\uFFFD');
            }
        }

        return sb.ToString();
    }

    private static int FirstInvalid(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c >= ' ' && c < '\uD800')
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            if (!IsValid(c))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsValid(char c) =>
        c is '\t' or '\n' or '\r' || (c >= ' ' && c < '\uD800') || (c >= '\uE000' && c <= '\uFFFD');
}
