using System.Text;
using BatchPilot.Inputs.Internal;

namespace BatchPilot.Inputs.Tests.Internal;

public sealed class CsvRecordScannerTests
{
    [Theory]
    [InlineData("1,\"open\nmore\nlines", "Unclosed", 1, 0)]
    [InlineData("1,\"a\nb\",\"open\nx", "Unclosed", 2, 1)]
    [InlineData("\"a\"x,2", "TextAfterQuote", 0, 0)]
    [InlineData("1,\"a \"\"b\"\"\",5'11\"", "None", 0, 0)]
    public void FindQuoteProblem_LocatesTheQuotedValue(string raw, string kind, int field, int lineOffset)
    {
        // Act
        var found = CsvRecordScanner.FindQuoteProblem(Encoding.UTF8.GetBytes(raw), (byte)',');

        // Assert
        Assert.Equal((kind, field, lineOffset), (found.Kind.ToString(), found.Field, found.LineOffset));
    }

    [Fact]
    public void Locate_CountsFieldsAndLineBreaksOutsideAndInsideQuotes()
    {
        // Arrange
        var raw = Encoding.UTF8.GetBytes("a,\"b,\r\nc\",d");

        // Act
        var found = CsvRecordScanner.Locate(raw, (byte)',', raw.Length - 1);

        // Assert
        Assert.Equal((2, 1), found);
    }
}
