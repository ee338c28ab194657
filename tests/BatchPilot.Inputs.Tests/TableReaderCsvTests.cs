using System.Text;

namespace BatchPilot.Inputs.Tests;

public sealed class TableReaderCsvTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void ReadRows_ReturnsValuesAlignedWithHeader_WithSpreadsheetRowNumbers()
    {
        // Arrange
        var path = _folder.Write("simple.csv", "id,product,rating\nR1,Mouse,5\nR2,Hub,3\n");

        // Act
        var (columns, rows) = Read.All(path);

        // Assert
        Assert.Equal(["id", "product", "rating"], columns);
        Assert.Equal(2, rows.Count);
        Same.Values(["R1", "Mouse", "5"], rows[0].Values);
        Assert.Equal((1L, 2L), (rows[0].Index, rows[0].Row));
        Same.Values(["R2", "Hub", "3"], rows[1].Values);
        Assert.Equal((2L, 3L), (rows[1].Index, rows[1].Row));
    }

    [Fact]
    public void ReadRows_KeepsQuotedDelimitersQuotesAndNewlines_AndReportsStartLineOfEachRecord()
    {
        // Arrange
        var path = _folder.Write("quoted.csv",
            "id,text\n1,\"one, two\"\n2,\"say \"\"hi\"\"\"\n3,\"line a\nline b\r\nline c\"\n4,after\n");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Assert.Equal(["one, two", "say \"hi\"", "line a\nline b\r\nline c", "after"], rows.Select(r => r.Values[1]));
        Assert.Equal([2L, 3L, 4L, 7L], rows.Select(r => r.Row));
        Assert.Equal([1L, 2L, 3L, 4L], rows.Select(r => r.Index));
    }

    [Fact]
    public void ReadRows_RoundTripsFrenchAndChineseExactly()
    {
        // Arrange
        const string French = "Ça marche très bien, à l'été prochain ! Œuvre naïve, cœur, crème brûlée";
        const string Chinese = "这个产品非常好用，物超所值。";
        const string Emoji = "Top 👍🏽 qualité";
        var path = _folder.Write("intl.csv", $"id,texte\n1,\"{French}\"\n2,{Chinese}\n3,{Emoji}\n");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Assert.Equal([French, Chinese, Emoji], rows.Select(r => r.Values[1]));
    }

    [Fact]
    public void Open_AcceptsUtf8ByteOrderMark_WithoutPuttingItInTheFirstColumnName()
    {
        // Arrange
        var path = _folder.Write("bom.csv", [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("id,text\n1,é\n")]);

        // Act
        var (columns, rows) = Read.All(path);

        // Assert
        Assert.Equal(["id", "text"], columns);
        Same.Values(["1", "é"], rows.Single().Values);
    }

    [Theory]
    [InlineData("semicolon", "id;name;price\n1;Café;1,50\n2;Thé;2,00\n", ";")]
    [InlineData("tab", "id\tname\tprice\n1\tCafé\t1,50\n2\tThé\t2,00\n", "\t")]
    [InlineData("pipe", "id|name|price\n1|Café|1,50\n2|Thé|2,00\n", "|")]
    public void Open_DetectsDelimiterFromHeader(string name, string content, string expected)
    {
        // Arrange
        var path = _folder.Write(name + ".csv", content);

        // Act
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        var rows = reader.ReadRows().ToList();

        // Assert
        Assert.Equal(expected, reader.Delimiter);
        Assert.Equal(["id", "name", "price"], reader.Columns);
        Same.Values(["1", "Café", "1,50"], rows[0].Values);
    }

    [Fact]
    public void Open_SingleColumnHeader_ReadsWholeLinesIncludingCommas()
    {
        // Arrange
        var path = _folder.Write("prompts.csv", "prompt\nWrite a haiku, please.\n\"Quoted, \"\"still\"\" one value\"\n");

        // Act
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        var values = reader.ReadRows().Select(r => r.Values.Single()).ToList();

        // Assert
        Assert.Equal(",", reader.Delimiter);
        Assert.Equal(["Write a haiku, please.", "Quoted, \"still\" one value"], values);
    }

    [Fact]
    public void Open_HonoursExcelSepLine()
    {
        // Arrange
        var path = _folder.Write("sep.csv", "sep=;\nid;text\n1;a,b\n");

        // Act
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        var row = reader.ReadRows().Single();

        // Assert
        Assert.Equal(";", reader.Delimiter);
        Assert.Equal(["id", "text"], reader.Columns);
        Same.Values(["1", "a,b"], row.Values);
        Assert.Equal(3, row.Row);
    }

    [Theory]
    [InlineData(";")]
    [InlineData("semicolon")]
    public void Open_UsesGivenDelimiter_OverDetection(string delimiter)
    {
        // Arrange: the header alone would say comma.
        var path = _folder.Write("given.csv", "a,b;c\n1,2;3\n");

        // Act
        using var reader = TableReader.Open(path, new TableReadOptions { Delimiter = delimiter });
        var row = reader.ReadRows().Single();

        // Assert
        Assert.Equal(["a,b", "c"], reader.Columns);
        Same.Values(["1,2", "3"], row.Values);
    }

    [Theory]
    [InlineData("\t")]
    [InlineData("\\t")]
    [InlineData("tab")]
    [InlineData("TAB")]
    public void Open_AcceptsTabDelimiterSpellings(string delimiter)
    {
        // Arrange
        var path = _folder.Write("tabs.txt", "a\tb,c\n1\t2,3\n");

        // Act
        var (columns, rows) = Read.All(path, new TableReadOptions { Delimiter = delimiter });

        // Assert
        Assert.Equal(["a", "b,c"], columns);
        Same.Values(["1", "2,3"], rows.Single().Values);
    }

    [Fact]
    public void ReadRows_CrlfLineEndingsAndBlankLines_AreNotRows()
    {
        // Arrange
        var path = _folder.Write("crlf.csv", "id,text\r\n1,a\r\n\r\n2,b\r\n   \r\n3,c\r\n\r\n");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Assert.Equal(["a", "b", "c"], rows.Select(r => r.Values[1]));
        Assert.Equal([2L, 4L, 6L], rows.Select(r => r.Row));
        Assert.Equal([1L, 2L, 3L], rows.Select(r => r.Index));
    }

    [Fact]
    public void ReadRows_LastLineWithoutNewline_IsARow()
    {
        // Arrange
        var path = _folder.Write("nonl.csv", "id,text\n1,a\n2,b");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Same.Values(["2", "b"], rows[^1].Values);
    }

    [Fact]
    public void ReadRows_EmptyFields_AreEmptyStringsNotNull()
    {
        // Arrange
        var path = _folder.Write("empty-values.csv", "id,a,b\n1,,\n2,\"\",x\n");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Same.Values(["1", "", ""], rows[0].Values);
        Same.Values(["2", "", "x"], rows[1].Values);
    }

    [Fact]
    public void ReadRows_StrayQuoteInsideUnquotedValue_IsKeptAsText()
    {
        // Arrange
        var path = _folder.Write("inches.csv", "id,height\n1,5'11\"\n");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Assert.Equal("5'11\"", rows.Single().Values[1]);
    }

    [Fact]
    public void Open_TrimsHeaderNames_ButNotValues()
    {
        // Arrange
        var path = _folder.Write("spaces.csv", "id, product , rating\n1, Mouse ,5\n");

        // Act
        var (columns, rows) = Read.All(path);

        // Assert
        Assert.Equal(["id", "product", "rating"], columns);
        Assert.Equal(" Mouse ", rows.Single().Values[1]);
    }

    [Theory]
    [InlineData("latin1")]
    [InlineData("iso-8859-1")]
    [InlineData("windows-1252")]
    [InlineData("cp1252")]
    public void Open_WithLatinEncoding_DecodesAccentsAndWindowsQuotes(string encoding)
    {
        // Arrange: é è in latin1, and 0x92 (’) which only windows-1252 defines.
        var path = _folder.Write("latin1.csv", [.. "id,text\n1,caf"u8, 0xE9, .. " cr"u8, 0xE8, .. "me l"u8, 0x92, .. "ami\n"u8]);

        // Act
        var (_, rows) = Read.All(path, new TableReadOptions { Encoding = encoding });

        // Assert
        Assert.Equal("café crème l’ami", rows.Single().Values[1]);
    }

    [Fact]
    public void Open_WithGbkEncoding_DecodesChinese()
    {
        // Arrange
        var gbk = CodePagesEncodingProvider.Instance.GetEncoding("gbk")!;
        var path = _folder.Write("gbk.csv", [.. "id,text\n1,"u8, .. gbk.GetBytes("质量很好"), (byte)'\n']);

        // Act
        var (_, rows) = Read.All(path, new TableReadOptions { Encoding = "gbk" });

        // Assert
        Assert.Equal("质量很好", rows.Single().Values[1]);
    }

    [Fact]
    public void Open_Utf16WithByteOrderMark_IsReadWithoutEncodingOption()
    {
        // Arrange: what Excel's "Unicode Text" writes.
        var path = _folder.Write("unicode.txt", [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes("id\ttext\r\n1\tcafé 中文\r\n")]);

        // Act
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        var row = reader.ReadRows().Single();

        // Assert
        Assert.Equal("\t", reader.Delimiter);
        Same.Values(["1", "café 中文"], row.Values);
    }

    [Fact]
    public void Open_Utf16WithoutByteOrderMark_IsReadWithEncodingOption()
    {
        // Arrange
        var path = _folder.Write("unicode.csv", Encoding.Unicode.GetBytes("id,text\n1,中文\n"));

        // Act
        var (_, rows) = Read.All(path, new TableReadOptions { Encoding = "utf-16" });

        // Assert
        Same.Values(["1", "中文"], rows.Single().Values);
    }

    [Fact]
    public void Open_Utf8ByteOrderMark_WinsOverWrongEncodingOption()
    {
        // Arrange
        var path = _folder.Write("bom.csv", [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("id,text\n1,été\n")]);

        // Act
        var (columns, rows) = Read.All(path, new TableReadOptions { Encoding = "latin1" });

        // Assert
        Assert.Equal(["id", "text"], columns);
        Assert.Equal("été", rows.Single().Values[1]);
    }

    [Theory]
    [InlineData("data.jsonl")]
    [InlineData("data.txt")]
    public void Open_FormatOption_OverridesExtension(string name)
    {
        // Arrange
        var path = _folder.Write(name, "id,text\n1,a\n");

        // Act
        using var reader = TableReader.Open(path, new TableReadOptions { Format = "csv" });

        // Assert
        Assert.Equal("csv", reader.Format);
        Assert.Equal(["id", "text"], reader.Columns);
    }

    [Fact]
    public void ReadRows_EachRowOwnsItsValuesArray()
    {
        // Arrange
        var path = _folder.Write("own.csv", "id\n1\n2\n3\n");

        // Act
        var (_, rows) = Read.All(path);

        // Assert
        Assert.Equal(["1", "2", "3"], rows.Select(r => r.Values[0]));
        Assert.Equal(3, rows.Select(r => r.Values).Distinct().Count());
    }

    [Fact]
    public void ReadRows_ManyRows_StreamsThemAllInOrder()
    {
        // Arrange
        var text = new StringBuilder("id,text\n");
        for (var i = 1; i <= 100_000; i++)
        {
            text.Append(i).Append(",\"value ").Append(i).Append(", quoted\"\n");
        }

        var path = _folder.Write("many.csv", text.ToString());

        // Act
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        long count = 0;
        TableRow last = default;
        foreach (var row in reader.ReadRows())
        {
            count++;
            last = row;
        }

        // Assert
        Assert.Equal(100_000, count);
        Same.Values(["100000", "value 100000, quoted"], last.Values);
        Assert.Equal(100_001, last.Row);
    }

    [Fact]
    public void ReadRows_SecondCall_Throws()
    {
        // Arrange
        var path = _folder.Write("once.csv", "id\n1\n");
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        _ = reader.ReadRows().ToList();

        // Act + Assert
        Assert.Throws<InvalidOperationException>(() => reader.ReadRows());
    }

    [Fact]
    public void ReadRows_AfterDispose_Throws()
    {
        // Arrange
        var path = _folder.Write("disposed.csv", "id\n1\n");
        var reader = TableReader.Open(path, TableReadOptions.Default);
        reader.Dispose();

        // Act + Assert
        Assert.Throws<ObjectDisposedException>(() => reader.ReadRows());
    }

    [Fact]
    public void ReadRows_CancelledToken_StopsEnumeration()
    {
        // Arrange
        var path = _folder.Write("cancel.csv", "id\n1\n2\n3\n");
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        using var cts = new CancellationTokenSource();
        var seen = new List<long>();

        // Act
        var ex = Record.Exception(() =>
        {
            foreach (var row in reader.ReadRows(cts.Token))
            {
                seen.Add(row.Index);
                cts.Cancel();
            }
        });

        // Assert
        Assert.IsType<OperationCanceledException>(ex, exactMatch: false);
        Assert.Equal([1L], seen);
    }

    [Fact]
    public void Open_FromStream_SpoolsAndDetectsCsv()
    {
        // Arrange
        using var input = new MemoryStream(Encoding.UTF8.GetBytes("id;text\n1;héllo\n"));

        // Act
        using var reader = TableReader.Open(input, "<stdin>", TableReadOptions.Default);
        var row = reader.ReadRows().Single();

        // Assert
        Assert.Equal("<stdin>", reader.DisplayName);
        Assert.Equal("csv", reader.Format);
        Same.Values(["1", "héllo"], row.Values);
    }

    [Fact]
    public async Task Open_NamedPipe_IsCopiedAndReadLikeAFile()
    {
        // Arrange: what bash's <(command) hands over.
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var path = Path.Combine(_folder.Path, "pipe.csv");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]))
        {
            await mkfifo.WaitForExitAsync();
        }

        var writer = Task.Run(() => File.WriteAllText(path, "id;text\n1;über\n"));

        // Act
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        var row = reader.ReadRows().Single();
        await writer.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        Assert.Equal(path, reader.DisplayName);
        Same.Values(["1", "über"], row.Values);
    }
}
