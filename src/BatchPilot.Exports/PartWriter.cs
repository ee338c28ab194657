using System.Text;
using System.Xml;
using DocumentFormat.OpenXml;

namespace BatchPilot.Exports;

/// <summary>
/// A forward-only writer of one Open XML part, writing the same bytes as the SDK's <see cref="OpenXmlPartWriter"/> (an
/// <see cref="XmlWriter"/> in UTF-8 with a byte order mark) but also taking elements by name. The elements written once
/// or more per item (paragraphs, runs, text, rows, cells) are written by name: the SDK's writer reads each element
/// object's prefix, namespace and attributes through its metadata, which was 40 % of an Excel export's time and most of
/// a Word export's. Rare elements (tables, section, sheet views) are still written from SDK objects.
/// </summary>
internal sealed class PartWriter : IDisposable
{
    /// <summary>WordprocessingML's namespace, prefix <c>w</c>.</summary>
    public const string W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

    /// <summary>SpreadsheetML's namespace, prefix <c>x</c> (the SDK's prefix for it).</summary>
    public const string X = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";

    private const string XmlNs = "http://www.w3.org/XML/1998/namespace";
    private const string XmlnsNs = "http://www.w3.org/2000/xmlns/";

    private static readonly XmlWriterSettings Settings = new() { CloseOutput = false, Encoding = Encoding.UTF8 };

    private readonly XmlWriter _xml;

    /// <summary>Writes into a part's stream, which stays open.</summary>
    public PartWriter(Stream part) => _xml = XmlWriter.Create(part, Settings);

    /// <summary>The XML declaration, <c>standalone="yes"</c>.</summary>
    public void WriteStartDocument() => _xml.WriteStartDocument(true);

    /// <summary>A start tag by name, such as (<c>w</c>, <c>p</c>, <see cref="W"/>).</summary>
    public void Start(string prefix, string localName, string ns) => _xml.WriteStartElement(prefix, localName, ns);

    /// <summary>An attribute of the start tag just written; (<c>""</c>, <c>r</c>, <c>""</c>) for one without a namespace.</summary>
    public void Attribute(string prefix, string localName, string ns, string value) => _xml.WriteAttributeString(prefix, localName, ns, value);

    /// <summary><c>xml:space="preserve"</c>, for text elements that keep their spaces.</summary>
    public void PreserveSpace() => _xml.WriteAttributeString("xml", "space", XmlNs, "preserve");

    /// <summary>An empty element by name with one optional attribute in the same namespace, such as <c>&lt;w:pStyle w:val="Code" /&gt;</c>.</summary>
    public void Empty(string prefix, string localName, string ns, string? attribute = null, string? value = null)
    {
        _xml.WriteStartElement(prefix, localName, ns);
        if (attribute is not null)
        {
            _xml.WriteAttributeString(prefix, attribute, ns, value);
        }

        _xml.WriteEndElement();
    }

    /// <summary>Text content (escaped; the caller makes it XML-safe with <see cref="XmlText.Clean"/>).</summary>
    public void Text(string text) => _xml.WriteString(text);

    /// <summary>Closes the innermost open element.</summary>
    public void End() => _xml.WriteEndElement();

    /// <summary>The start tag of an SDK element with its attributes, as <see cref="OpenXmlPartWriter.WriteStartElement(OpenXmlElement)"/> writes it.</summary>
    public void Start(OpenXmlElement element, IEnumerable<KeyValuePair<string, string>>? namespaceDeclarations = null)
    {
        _xml.WriteStartElement(element.Prefix, element.LocalName, element.NamespaceUri);
        foreach (var (prefix, uri) in namespaceDeclarations ?? [])
        {
            _xml.WriteAttributeString("xmlns", prefix, XmlnsNs, uri);
        }

        if (element.HasAttributes)
        {
            foreach (var attribute in element.GetAttributes())
            {
                _xml.WriteAttributeString(attribute.Prefix, attribute.LocalName, attribute.NamespaceUri, attribute.Value);
            }
        }
    }

    /// <summary>A whole SDK element with its children.</summary>
    public void Element(OpenXmlElement element) => element.WriteTo(_xml);

    /// <summary>Ends open elements and flushes into the part's stream.</summary>
    public void Dispose() => _xml.Dispose();
}
