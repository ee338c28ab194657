using System.Text;

namespace BatchPilot.Inputs.Tests;

public sealed class TableReaderJsonlTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Open_ColumnsAreUnionOfKeys_InFirstSeenOrder()
    {
        // Arrange
        var path = _folder.Write("keys.jsonl", "{\"id\":1,\"text\":\"a\"}\n{\"lang\":\"fr\",\"id\":2}\n{\"id\":3,\"score\":0.5,\"text\":\"c\"}\n");

        // Act
        var (columns, rows) = Read.All(path);

        // Assert
        Assert.Equal(["id", "text", "lang", "score"], columns);
        Same.Values(["1", "a", null, null], rows[0].Values);
        Same.Values(["2", null, "fr", null], rows[1].Values);
        Same.Values(["3", "c", null, "0.5"], rows[2].Values);
    }

    [Fact]
    public void ReadRows_ValuesAreStringsOrJsonText()
    {
        // Arrange
        var path = _folder.Write("values.jsonl",
            "{\"s\":\"a \\\"q\\\" \\u00e9\\n\",\"n\":1.50,\"i\":-3e2,\"t\":true,\"f\":false,\"z\":null,\"o\":{\"a\": [1, 2, {\"b\" : \"x y\"}]},\"arr\":[ ]}\n");

        // Act
        var (columns, rows) = Read.All(path);
        var values = columns.Zip(rows.Single().Values).ToDictionary(p => p.First, p => p.Second);

        // Assert
        Assert.Equal("a \"q\" é\n", values["s"]);
        Assert.Equal("1.50", values["n"]);
        Assert.Equal("-3e2", values["i"]);
        Assert.Equal("true", values["t"]);
        Assert.Equal("false", values["f"]);
        Assert.Null(values["z"]);
        Assert.Equal("{\"a\":[1,2,{\"b\":\"x y\"}]}", values["o"]);
        Assert.Equal("[]", values["arr"]);
    }

    [Fact]
    public void ReadRows_NestedValues_KeepNonAsciiAndEscapesAsWritten()
    {
        // Arrange
        var path = _folder.Write("nested.jsonl", "{\"id\":1,\"meta\":{\"tag\": \"中文 é\", \"q\": \"a\\\"b\"}}\n");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Assert.Equal("{\"tag\":\"中文 é\",\"q\":\"a\\\"b\"}", rows.Single().Values[1]);
    }

    [Fact]
    public void ReadRows_LineNumbers_CountBlankLines()
    {
        // Arrange
        var path = _folder.Write("lines.jsonl", "\n{\"id\":1}\n\n  \n{\"id\":2}\r\n{\"id\":3}");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Assert.Equal([2L, 5L, 6L], rows.Select(r => r.Row));
        Assert.Equal([1L, 2L, 3L], rows.Select(r => r.Index));
    }

    [Fact]
    public void ReadRows_RoundTripsFrenchAndChineseExactly()
    {
        // Arrange
        const string French = "Très bien, l'été à Noël — œuvre naïve";
        const string Chinese = "物超所值，推荐购买！";
        var path = _folder.Write("intl.jsonl", $"{{\"fr\":\"{French}\",\"zh\":\"{Chinese}\",\"emoji\":\"👍🏽\"}}\n");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Same.Values([French, Chinese, "👍🏽"], rows.Single().Values);
    }

    [Fact]
    public void Open_ByteOrderMarkAndCrlf_AreAccepted()
    {
        // Arrange
        var path = _folder.Write("bom.jsonl", [.. Encoding.UTF8.GetPreamble(), .. "{\"id\":1}\r\n{\"id\":2}\r\n"u8]);

        // Act
        var (columns, rows) = Read.All(path);

        // Assert
        Assert.Equal(["id"], columns);
        Assert.Equal(["1", "2"], rows.Select(r => r.Values[0]));
    }

    [Theory]
    [InlineData("data.ndjson")]
    [InlineData("data.json")]
    [InlineData("DATA.JSONL")]
    public void Open_JsonLinesExtensions_AreReadAsJsonl(string name)
    {
        // Arrange
        var path = _folder.Write(name, "{\"id\":1}\n");

        // Act
        using var reader = TableReader.Open(path, TableReadOptions.Default);

        // Assert
        Assert.Equal("jsonl", reader.Format);
        Assert.Null(reader.Delimiter);
    }

    [Fact]
    public void Open_FormatOption_ReadsAnyExtensionAsJsonl()
    {
        // Arrange
        var path = _folder.Write("rows.txt", "{\"id\":1}\n");

        // Act
        var (columns, _) = Read.All(path, new TableReadOptions { Format = "jsonl" });

        // Assert
        Assert.Equal(["id"], columns);
    }

    [Fact]
    public void Open_WithLatin1Encoding_TranscodesJsonl()
    {
        // Arrange
        var path = _folder.Write("latin1.jsonl", [.. "{\"text\":\"caf"u8, 0xE9, .. "\"}\n"u8]);

        // Act
        var (_, rows) = Read.All(path, new TableReadOptions { Encoding = "latin1" });

        // Assert
        Assert.Equal("café", rows.Single().Values[0]);
    }

    [Fact]
    public void Open_Utf16WithByteOrderMark_IsTranscoded()
    {
        // Arrange
        var path = _folder.Write("u16.jsonl", [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes("{\"id\":1,\"t\":\"中文\"}\r\n")]);

        // Act
        var (columns, rows) = Read.All(path);

        // Assert
        Assert.Equal(["id", "t"], columns);
        Same.Values(["1", "中文"], rows.Single().Values);
    }

    [Fact]
    public void ReadRows_EscapedKeys_MatchTheirColumn()
    {
        // Arrange: the same key written plainly and escaped.
        var path = _folder.Write("escaped.jsonl", "{\"caf\u00e9\":1}\n{\"caf\\u00e9\":2}\n");

        // Act
        var (columns, rows) = Read.All(path);

        // Assert
        Assert.Equal(["café"], columns);
        Assert.Equal(["1", "2"], rows.Select(r => r.Values[0]));
    }

    [Fact]
    public void ReadRows_ManyLines_StreamsThemAll()
    {
        // Arrange
        var text = new StringBuilder();
        for (var i = 1; i <= 50_000; i++)
        {
            text.Append("{\"id\":").Append(i).Append(",\"text\":\"row ").Append(i).Append("\"}\n");
        }

        var path = _folder.Write("many.jsonl", text.ToString());

        // Act
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        var last = reader.ReadRows().Last();

        // Assert
        Assert.Equal(50_000, last.Index);
        Same.Values(["50000", "row 50000"], last.Values);
    }

    [Fact]
    public void Open_FromStream_DetectsJsonl_AndDeletesSpoolOnDispose()
    {
        // Arrange
        var before = SpoolFiles();
        using var input = new MemoryStream("\n  {\"id\":1,\"text\":\"a\"}\n"u8.ToArray());

        // Act
        var reader = TableReader.Open(input, "<stdin>", TableReadOptions.Default);
        var spooled = SpoolFiles().Except(before).ToList();
        var row = reader.ReadRows().Single();
        reader.Dispose();

        // Assert
        Assert.Equal("jsonl", reader.Format);
        Same.Values(["1", "a"], row.Values);
        Assert.Equal(2, row.Row);
        Assert.Single(spooled);
        Assert.False(File.Exists(spooled[0]));
    }

    private static HashSet<string> SpoolFiles() =>
        [.. Directory.EnumerateFiles(Path.GetTempPath(), "batchpilot-input-*.tmp")];
}
