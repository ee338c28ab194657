using System.Globalization;
using System.Text.RegularExpressions;

namespace BatchPilot.Inputs.Tests;

/// <summary>The bundled example data of the README demo reads cleanly and has what the demo shows.</summary>
public sealed partial class ExampleDataTests
{
    private static readonly string Reviews = RepositoryFiles.PathOf("examples", "reviews.csv");

    [Fact]
    public void ReviewsCsv_HasTheDemoColumnsAndAboutTwoHundredRows()
    {
        // Act
        var (columns, rows) = Read.All(Reviews);

        // Assert
        Assert.Equal(["review_id", "product", "rating", "review_text"], columns);
        Assert.InRange(rows.Count, 150, 250);
        Assert.All(rows, row => Assert.Matches(ReviewId(), row.Values[0]));
        Assert.Equal(rows.Count, rows.Select(row => row.Values[0]).Distinct().Count());
        Assert.All(rows, row => Assert.InRange(int.Parse(row.Values[2]!, CultureInfo.InvariantCulture), 1, 5));
        Assert.All(rows, row => Assert.False(string.IsNullOrWhiteSpace(row.Values[3])));
    }

    [Fact]
    public void ReviewsCsv_HasQuotesCommasLineBreaksFrenchAndChinese()
    {
        // Act
        var (_, rows) = Read.All(Reviews);
        var texts = rows.Select(row => row.Values[3]!).ToList();

        // Assert
        Assert.Contains(texts, text => text.Contains('\n', StringComparison.Ordinal));
        Assert.Contains(texts, text => text.Contains('"', StringComparison.Ordinal));
        Assert.Contains(texts, text => text.Contains(',', StringComparison.Ordinal));
        Assert.Contains(rows, row => row.Values[1]!.Contains(',', StringComparison.Ordinal));
        Assert.True(texts.Count(text => text.Contains('é', StringComparison.Ordinal)) >= 5, "a few reviews in French");
        Assert.True(texts.Count(text => text.Any(c => c is >= '\u4E00' and <= '\u9FFF')) >= 5, "a few reviews in Chinese");
        Assert.True(rows.Select(row => row.Values[1]).Distinct().Count() >= 15, "varied products");
        Assert.Contains(rows, row => row.Row != row.Index + 1);
    }

    [Fact]
    public void ClassifyReviewTemplate_UsesOnlyColumnsOfReviewsCsv()
    {
        // Arrange
        var template = File.ReadAllText(RepositoryFiles.PathOf("examples", "classify-review.txt"));
        using var reader = TableReader.Open(Reviews, TableReadOptions.Default);

        // Act
        var placeholders = Placeholder().Matches(template).Select(m => m.Groups[1].Value).Distinct().ToList();

        // Assert
        Assert.Equal(["product", "rating", "review_text"], placeholders.Order());
        Assert.All(placeholders, name => Assert.Contains(name, reader.Columns));
        Assert.Contains("positive", template, StringComparison.Ordinal);
        Assert.Contains("neutral", template, StringComparison.Ordinal);
        Assert.Contains("negative", template, StringComparison.Ordinal);
    }

    [GeneratedRegex("^R[0-9]{4}$")]
    private static partial Regex ReviewId();

    [GeneratedRegex(@"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")]
    private static partial Regex Placeholder();
}
