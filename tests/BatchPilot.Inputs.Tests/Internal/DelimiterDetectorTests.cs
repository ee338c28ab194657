using BatchPilot.Inputs.Internal;

namespace BatchPilot.Inputs.Tests.Internal;

public sealed class DelimiterDetectorTests
{
    [Theory]
    [InlineData("a,b,c\n1;2;3\n", ',', false)]
    [InlineData("a;b;c\n1,5;2,5;3\n", ';', false)]
    [InlineData("a\tb\n", '\t', false)]
    [InlineData("a|b|c", '|', false)]
    [InlineData("\"x,y\";z\n", ';', false)]
    [InlineData("\"multi\nline, header\";b\n", ';', false)]
    [InlineData("\r\n\r\na;b\n", ';', false)]
    [InlineData("a,b;c\n", ',', false)]
    [InlineData("prompt\nhello, world\n", ',', true)]
    public void Detect_CountsCandidatesInHeaderOutsideQuotes(string head, char expected, bool singleColumn)
    {
        // Act
        var (separator, fromSepLine, oneColumn) = DelimiterDetector.Detect(head);

        // Assert
        Assert.Equal(expected, separator);
        Assert.False(fromSepLine);
        Assert.Equal(singleColumn, oneColumn);
    }

    [Theory]
    [InlineData("sep=;\na;b\n", ';')]
    [InlineData("SEP=|\r\na|b\n", '|')]
    public void Detect_ExcelSepLine_NamesTheSeparator(string head, char expected)
    {
        // Act
        var (separator, fromSepLine, _) = DelimiterDetector.Detect(head);

        // Assert
        Assert.Equal(expected, separator);
        Assert.True(fromSepLine);
    }
}
