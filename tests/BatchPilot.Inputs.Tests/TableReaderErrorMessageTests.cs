using System.Text;
using BatchPilot.Errors;

namespace BatchPilot.Inputs.Tests;

/// <summary>
/// Pins every user-facing error line of the readers (<see cref="InputException.ToUserLine"/>): a change of wording must
/// be a deliberate change of these tests.
/// </summary>
public sealed class TableReaderErrorMessageTests : IDisposable
{
    private const string RaggedCommaHint = "Put values that contain a comma or a line break in double quotes, or pass --delimiter if the file is not comma-separated.";
    private const string JsonlHint = "Each line must hold one JSON object, such as {\"id\": 1, \"text\": \"...\"}.";

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Open_MissingFile_SaysNotFoundAndWhereRelativePathsStart()
    {
        var path = Path.Combine(_folder.Path, "missing.csv");

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}: file not found. Check the path; a relative path starts from the current directory, {Directory.GetCurrentDirectory()}.", ex.ToUserLine());
        Assert.Equal(ExitCodes.BadInput, ex.ExitCode);
    }

    [Fact]
    public void Open_MissingFileWithSimilarName_SuggestsIt()
    {
        _folder.Write("Reviews.csv", "id\n1\n");
        var path = Path.Combine(_folder.Path, "reviews.csv");
        if (File.Exists(path))
        {
            return; // A case-insensitive file system opens it anyway.
        }

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}: file not found. A file with a similar name exists: {_folder.Path}/Reviews.csv.", ex.ToUserLine());
    }

    [Fact]
    public void Open_MissingFileWithOtherExtension_SuggestsIt()
    {
        _folder.Write("reviews.tsv", "id\n1\n");
        var path = Path.Combine(_folder.Path, "reviews.csv");

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}: file not found. A file with a similar name exists: {_folder.Path}/reviews.tsv.", ex.ToUserLine());
    }

    [Theory]
    [InlineData(@"C:\data\in.csv", "Use a path on this machine with forward slashes (under WSL this file would be /mnt/c/data/in.csv).")]
    [InlineData(@"D:/Exports/reviews.csv", "Use a path on this machine with forward slashes (under WSL this file would be /mnt/d/Exports/reviews.csv).")]
    [InlineData(@"data\in.csv", "Use a path on this machine with forward slashes, such as data/in.csv.")]
    public void Open_WindowsPathOnLinux_SaysSoAndHowToFixIt(string path, string hint)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}: file not found: this is a Windows path, and this machine is not Windows. {hint}", ex.ToUserLine());
    }

    [Fact]
    public void Open_Directory_SaysItIsADirectory()
    {
        var ex = Read.OpenError(_folder.Path);

        Assert.Equal($"{_folder.Path}: this is a directory, not a file. Give the path of a .csv or .jsonl file inside it.", ex.ToUserLine());
    }

    [Fact]
    public void Open_UnreadableFile_SaysPermissionDenied()
    {
        // Root reads any file, so the test means nothing there.
        if (OperatingSystem.IsWindows() || Environment.UserName == "root")
        {
            return;
        }

        var path = _folder.Write("secret.csv", "id\n1\n");
        File.SetUnixFileMode(path, UnixFileMode.None);

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}: file cannot be read: permission denied. Make it readable (for example chmod u+r) or copy it to a place you can read.", ex.ToUserLine());
    }

    [Fact]
    public void Open_EmptyPath_SaysNoFileWasGiven()
    {
        var ex = Read.OpenError(" ");

        Assert.Equal("no input file was given. Pass the path of a CSV or JSONL file, or - to read standard input.", ex.ToUserLine());
    }

    [Theory]
    [InlineData("empty.csv", "", "file is empty. A CSV file needs a header row and at least one data row.")]
    [InlineData("blank.csv", "\n  \r\n\t\n", "file is empty: it holds only blank lines. A CSV file needs a header row and at least one data row.")]
    [InlineData("empty.jsonl", "", "file is empty. Write one JSON object per line.")]
    [InlineData("blank.jsonl", "\n\n   \n", "file is empty: it holds only blank lines. Write one JSON object per line.")]
    [InlineData("header.csv", "id,text\n", "file has a header row but no data rows. Add at least one row of data below the header.")]
    [InlineData("header-blank-lines.csv", "id,text\r\n\r\n  \r\n", "file has a header row but no data rows. Add at least one row of data below the header.")]
    [InlineData("nokeys.jsonl", "{}\n{ }\n", "no line holds an object with a key. Give every object the same keys, one per column, such as {\"id\": 1, \"text\": \"...\"}.")]
    public void Open_FileWithoutData_SaysWhatIsMissing(string name, string content, string expected)
    {
        var path = _folder.Write(name, content);

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}: {expected}", ex.ToUserLine());
    }

    [Theory]
    [InlineData("a,,b\n1,2,3\n", "row 1: column 2 of the header has no name. Give every column a name in the header row.")]
    [InlineData("a,b,\n1,2,\n", "row 1: column 3 of the header has no name. Name the column, or remove the delimiter at the end of the header line.")]
    [InlineData("id,text,id\n1,a,2\n", "row 1: 'id': the header has two columns with this name (columns 1 and 3). Rename one of them so that every column name is unique.")]
    [InlineData("id;name ; name\n1;a;b\n", "row 1: 'name': the header has two columns with this name (columns 2 and 3). Rename one of them so that every column name is unique.")]
    [InlineData("\n\nid,,b\n1,2,3\n", "row 3: column 2 of the header has no name. Give every column a name in the header row.")]
    [InlineData("id,\"text\n1,2\n", "row 1: a quoted value starts here but its closing quote is missing. Add the closing quote, and double every quote inside a quoted value (\"\").")]
    public void Open_BadHeader_NamesTheColumn(string content, string expected)
    {
        var path = _folder.Write("header.csv", content);

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}, {expected}", ex.ToUserLine());
    }

    [Fact]
    public void Open_NonUtf8Header_SaysWhichRow()
    {
        var path = _folder.Write("header.csv", [.. "id,r"u8, 0xE9, .. "sum"u8, 0xE9, .. "\n1,x\n"u8]);

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}, row 1: contains bytes that are not valid UTF-8. The file is in another encoding: pass --encoding latin1, or save it as UTF-8.", ex.ToUserLine());
    }

    [Theory]
    [InlineData("id,a,b\n1,2,3\n4,5\n", "row 3: this row has 2 fields, but the header has 3. " + RaggedCommaHint)]
    [InlineData("id,a\n1,2\n3,4,5\n", "row 3: this row has 3 fields, but the header has 2. " + RaggedCommaHint)]
    [InlineData("id,a\n1,\"x\ny\"\n2,\"p\nq\"\n3\n", "row 6: this row has 1 field, but the header has 2. " + RaggedCommaHint)]
    [InlineData("id;a;b\n1;2;3\n4;5\n", "row 3: this row has 2 fields, but the header has 3. Put values that contain a semicolon or a line break in double quotes, or pass --delimiter if the file is not semicolon-separated.")]
    [InlineData("id\ta\tb\n1\t2\n", "row 2: this row has 2 fields, but the header has 3. Put values that contain a tab or a line break in double quotes, or pass --delimiter if the file is not tab-separated.")]
    public void ReadRows_RaggedRow_SaysFieldCountsAndHowToFix(string content, string expected)
    {
        var path = _folder.Write("ragged.csv", content);

        var ex = Read.Error(path);

        Assert.Equal($"{path}, {expected}", ex.ToUserLine());
    }

    [Fact]
    public void ReadRows_RaggedRow_IsReportedAfterTheGoodRowsBeforeIt()
    {
        var path = _folder.Write("ragged.csv", "id,a\n1,2\n3,4\n5\n");
        using var reader = TableReader.Open(path, TableReadOptions.Default);
        var seen = new List<long>();

        var ex = Assert.Throws<InputException>(() =>
        {
            foreach (var row in reader.ReadRows())
            {
                seen.Add(row.Row);
            }
        });

        Assert.Equal([2L, 3L], seen);
        Assert.Equal(4, ex.Row);
        Assert.Equal(path, ex.File);
    }

    [Theory]
    [InlineData("id,text\n1,ok\n2,\"never closed\n3,x\n4,y\n", "row 3: 'text': a quoted value starts here but its closing quote is missing. Add the closing quote, and double every quote inside a quoted value (\"\").")]
    [InlineData("id,text\n1,\"a\nb\"\n2,\"c\n3,x\n", "row 4: 'text': a quoted value starts here but its closing quote is missing. Add the closing quote, and double every quote inside a quoted value (\"\").")]
    [InlineData("id,text\n1,\"He said \"hi\" to me\"\n", "row 2: 'text': text follows the closing quote of a quoted value. Double every quote inside a quoted value, as in \"she said \"\"hi\"\"\".")]
    public void ReadRows_BadQuotes_NameRowWhereTheQuotedValueStarts(string content, string expected)
    {
        var path = _folder.Write("quotes.csv", content);

        var ex = Read.Error(path);

        Assert.Equal($"{path}, {expected}", ex.ToUserLine());
    }

    [Fact]
    public void ReadRows_UnclosedQuoteInLargeFile_StopsAtTheRecordSizeLimit()
    {
        var text = new StringBuilder("id,text\n1,ok\n2,\"open\n");
        var filler = new string('x', 1000) + ",y\n";
        while (text.Length < 66 * 1024 * 1024)
        {
            text.Append(filler);
        }

        var path = _folder.Write("huge.csv", text.ToString());

        var ex = Read.Error(path);

        Assert.Equal($"{path}, row 3: a record starting here is longer than 64 MiB, which usually means a quote that is never closed. Check the quotes on this row: double every quote inside a quoted value (\"\").", ex.ToUserLine());
    }

    [Fact]
    public void ReadRows_NonUtf8Latin1Bytes_NameRowAndColumn()
    {
        var path = _folder.Write("latin1.csv", [.. "id,text\n1,ok\n2,caf"u8, 0xE9, .. "\n"u8]);

        var ex = Read.Error(path);

        Assert.Equal($"{path}, row 3: 'text': contains bytes that are not valid UTF-8. The file is in another encoding: pass --encoding latin1, or save it as UTF-8.", ex.ToUserLine());
    }

    [Fact]
    public void ReadRows_NonUtf8BytesOnLaterLineOfQuotedValue_NameThatLine()
    {
        var path = _folder.Write("latin1.csv", [.. "id,text,n\n1,\"first line\nsecond caf"u8, 0xE9, .. "\",3\n"u8]);

        var ex = Read.Error(path);

        Assert.Equal($"{path}, row 3: 'text': contains bytes that are not valid UTF-8. The file is in another encoding: pass --encoding latin1, or save it as UTF-8.", ex.ToUserLine());
    }

    [Fact]
    public void ReadRows_NonUtf8GbkBytes_SuggestGbk()
    {
        var gbk = CodePagesEncodingProvider.Instance.GetEncoding("gbk")!;
        var path = _folder.Write("gbk.csv", [.. "id,text\n1,"u8, .. gbk.GetBytes("这是一个测试评论"), (byte)'\n']);

        var ex = Read.Error(path);

        Assert.Equal($"{path}, row 2: 'text': contains bytes that are not valid UTF-8. The file is in another encoding: pass --encoding gbk, or save it as UTF-8.", ex.ToUserLine());
    }

    [Theory]
    [InlineData("book.xlsx", new byte[] { 0x50, 0x4B, 0x03, 0x04, 0x14, 0x00 }, "this is an Excel workbook or another zip archive, not a CSV or JSONL file. In Excel, use File > Save As > CSV UTF-8 (comma delimited), then pass the .csv file.")]
    [InlineData("book.xls", new byte[] { 0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0x00 }, "this is an old Excel .xls workbook or another Office document, not a CSV or JSONL file. In Excel, use File > Save As > CSV UTF-8 (comma delimited), then pass the .csv file.")]
    [InlineData("data.csv.gz", new byte[] { 0x1F, 0x8B, 0x08, 0x00 }, "this file is gzip-compressed. Decompress it first (gunzip) and pass the result.")]
    [InlineData("utf16.csv", new byte[] { 0x69, 0x00, 0x64, 0x00, 0x0A, 0x00, 0x31, 0x00 }, "file contains NUL bytes: it is UTF-16 text without a byte order mark, or not a text file. Save it as UTF-8, or pass --encoding utf-16 if it is UTF-16 text.")]
    public void Open_NotATextTable_SaysWhatItIs(string name, byte[] content, string expected)
    {
        var path = _folder.Write(name, content);

        var ex = Read.OpenError(path);

        Assert.Equal($"{path}: {expected}", ex.ToUserLine());
    }

    [Theory]
    [InlineData("{\"id\":1}\n{\"id\":2, \"text\": oops}\n", "row 2: line is not valid JSON: a value must be a string in double quotes, a number, true, false, null, an object or an array (at character 18). " + JsonlHint)]
    [InlineData("{\"id\":1,}\n", "row 1: line is not valid JSON: a comma before a closing } or ] has nothing after it (at character 9). " + JsonlHint)]
    [InlineData("{\"id\":1} x\n", "row 1: line is not valid JSON: there is more text after the object (at character 10). " + JsonlHint)]
    [InlineData("{'id':1}\n", "row 1: line is not valid JSON: a key must be a string in double quotes (at character 2). " + JsonlHint)]
    [InlineData("{\"id\":1,\"t\":\"x\n", "row 1: line is not valid JSON: a string is not closed (at character 15). " + JsonlHint)]
    [InlineData("{\"id\":1,\"t\":\"x\"\n", "row 1: line is not valid JSON: the line ends before the object is closed (at character 16). " + JsonlHint)]
    [InlineData("{\"t\":\"中文\" x}\n", "row 1: line is not valid JSON: a ',' or a closing } or ] is missing after a value (at character 11). " + JsonlHint)]
    [InlineData("{\"id\":1}\n[1, 2]\n", "row 2: line is a JSON array, not a JSON object. " + JsonlHint)]
    [InlineData("{\"id\":1}\n42\n", "row 2: line is a JSON number, not a JSON object. " + JsonlHint)]
    [InlineData("\"text\"\n", "row 1: line is a JSON string, not a JSON object. " + JsonlHint)]
    [InlineData("{\"id\":1}\nnull\n", "row 2: line is JSON null, not a JSON object. " + JsonlHint)]
    [InlineData("{\"id\":1}\ntrue\n", "row 2: line is a JSON boolean, not a JSON object. " + JsonlHint)]
    [InlineData("[\n  {\"id\": 1}\n]\n", "row 1: line is not valid JSON: the line ends before the array is closed (at character 2). The file looks like a pretty-printed JSON array: convert it to one object per line, for example with jq -c '.[]' in.json > in.jsonl.")]
    [InlineData("{\n  \"id\": 1\n}\n", "row 1: line is not valid JSON: the line ends before the object is closed (at character 2). The file looks like pretty-printed JSON: JSON Lines needs each object on one line, for example jq -c '.' in.json > in.jsonl.")]
    [InlineData("{\"id\":1,\"text\":\"a\",\"text\":\"b\"}\n", "row 1: 'text': this key appears twice in the object. Keep one value per key.")]
    [InlineData("{\"t\":\"\\ud800\"}\n", "row 1: line is not valid JSON: a string holds an invalid \\u escape. " + JsonlHint)]
    public void ReadRows_BadJsonlLine_NamesTheLine(string content, string expected)
    {
        var path = _folder.Write("bad.jsonl", content);

        var ex = Read.Error(path);

        Assert.Equal($"{path}, {expected}", ex.ToUserLine());
    }

    [Fact]
    public void ReadRows_NonUtf8Jsonl_NamesTheLine()
    {
        var path = _folder.Write("bad.jsonl", [.. "{\"id\":1}\n{\"t\":\"caf"u8, 0xE9, .. "\"}\n"u8]);

        var ex = Read.Error(path);

        Assert.Equal($"{path}, row 2: contains bytes that are not valid UTF-8. The file is in another encoding: pass --encoding latin1, or save it as UTF-8.", ex.ToUserLine());
    }

    [Fact]
    public void ReadRows_JsonlLineOverLimit_SaysItLooksLikeOneArray()
    {
        var text = new StringBuilder("[");
        while (text.Length < 65 * 1024 * 1024)
        {
            text.Append("{\"id\":1,\"text\":\"").Append('x', 1000).Append("\"},");
        }

        var path = _folder.Write("array.jsonl", text.Append("{}]").ToString());

        var ex = Read.Error(path);

        Assert.Equal($"{path}, row 1: line is longer than 64 MiB. The file looks like one JSON array: convert it to one object per line, for example with jq -c '.[]' in.json > in.jsonl.", ex.ToUserLine());
    }

    [Theory]
    [InlineData("ab", "'--delimiter': 'ab' cannot be used as a delimiter. Use one character such as , ; or |, or tab (also written \\t).")]
    [InlineData("\"", "'--delimiter': '\"' cannot be used as a delimiter. Use one character such as , ; or |, or tab (also written \\t).")]
    [InlineData("", "'--delimiter': '' cannot be used as a delimiter. Use one character such as , ; or |, or tab (also written \\t).")]
    [InlineData("é", "'--delimiter': 'é' cannot be used as a delimiter. Use one character such as , ; or |, or tab (also written \\t).")]
    public void Open_BadDelimiterOption_NamesTheOption(string delimiter, string expected)
    {
        var path = _folder.Write("ok.csv", "id\n1\n");

        var ex = Read.OpenError(path, new TableReadOptions { Delimiter = delimiter });

        Assert.Equal(expected, ex.ToUserLine());
        Assert.Equal("--delimiter", ex.Field);
    }

    [Fact]
    public void Open_UnknownEncoding_NamesTheOption()
    {
        var path = _folder.Write("ok.csv", "id\n1\n");

        var ex = Read.OpenError(path, new TableReadOptions { Encoding = "klingon" });

        Assert.Equal("'--encoding': unknown encoding 'klingon'. Use utf-8, latin1, windows-1252, utf-16 or gbk.", ex.ToUserLine());
    }

    [Fact]
    public void Open_UnknownFormat_NamesTheOption()
    {
        var path = _folder.Write("ok.csv", "id\n1\n");

        var ex = Read.OpenError(path, new TableReadOptions { Format = "xml" });

        Assert.Equal("'--format': unknown format 'xml'. Use csv or jsonl.", ex.ToUserLine());
    }

    [Fact]
    public void Open_BadOptionWithMissingFile_ReportsTheOptionFirst()
    {
        var ex = Read.OpenError(Path.Combine(_folder.Path, "missing.csv"), new TableReadOptions { Encoding = "nope" });

        Assert.Equal("--encoding", ex.Field);
    }

    [Fact]
    public void Open_EmptyStandardInput_IsNamedStdin()
    {
        using var input = new MemoryStream();

        var ex = Assert.Throws<InputException>(() => TableReader.Open(input, "<stdin>", TableReadOptions.Default));

        Assert.Equal("<stdin>: file is empty. A CSV file needs a header row and at least one data row.", ex.ToUserLine());
    }
}
