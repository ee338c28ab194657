using System.Text.RegularExpressions;
using BatchPilot.Errors;

namespace BatchPilot.Inputs.Tests;

/// <summary>
/// Runs the shared corpus through the readers: every bad input the reader can judge on its own must fail with a line
/// that matches its regex in <c>tests/corpus/bad-inputs/cases.tsv</c>; the cases that need CLI flags (a template, an id
/// column) must read cleanly, since only the CLI can find their fault; every good input must read with the expected
/// rows and columns.
/// </summary>
public sealed class CorpusTests
{
    public static TheoryData<string, string, string> BadCases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var fields in RepositoryFiles.ReadTsv(RepositoryFiles.PathOf("tests", "corpus", "bad-inputs", "cases.tsv")))
        {
            data.Add(fields[0], fields[1], fields.Length > 2 ? fields[2] : "");
        }

        return data;
    }

    public static TheoryData<string, int, string, string> GoodCases()
    {
        var data = new TheoryData<string, int, string, string>();
        foreach (var fields in RepositoryFiles.ReadTsv(RepositoryFiles.PathOf("tests", "corpus", "good-inputs", "cases.tsv")))
        {
            data.Add(fields[0], int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), fields[2], fields.Length > 3 ? fields[3] : "");
        }

        return data;
    }

    [Fact]
    public void BadInputs_HasAtLeastThirtyCases_AndEveryListedFileExists()
    {
        var cases = BadCases().Select(row => ((string)row[0], (string)row[2])).ToList();

        Assert.True(cases.Count >= 30, $"only {cases.Count} cases");
        foreach (var (file, notes) in cases)
        {
            var missingOnPurpose = notes.Contains("intentionally absent", StringComparison.Ordinal) || notes.StartsWith("path: as-is", StringComparison.Ordinal);
            var path = RepositoryFiles.PathOf("tests", "corpus", "bad-inputs", file);
            Assert.True(missingOnPurpose || File.Exists(path) || Directory.Exists(path), $"{file} is listed but missing");
        }
    }

    [Theory]
    [MemberData(nameof(BadCases))]
    public void BadInput_IsRejectedWithItsMessage(string file, string regex, string notes)
    {
        // Arrange
        if (notes.StartsWith("path: as-is", StringComparison.Ordinal) && OperatingSystem.IsWindows())
        {
            return;
        }

        var path = notes.StartsWith("path: as-is", StringComparison.Ordinal)
            ? file
            : RepositoryFiles.PathOf("tests", "corpus", "bad-inputs", file);
        var (options, cliOnly) = RepositoryFiles.OptionsFromNotes(notes);

        // Act
        var error = Record.Exception(() =>
        {
            using var reader = TableReader.Open(path, options);
            foreach (var row in reader.ReadRows())
            {
                _ = row;
            }
        });

        // Assert
        if (cliOnly)
        {
            Assert.Null(error);
            return;
        }

        var inputError = Assert.IsType<InputException>(error);
        var line = inputError.ToUserLine();
        Assert.Matches(new Regex(regex), line);
        Assert.DoesNotContain('\n', line);
    }

    [Theory]
    [MemberData(nameof(GoodCases))]
    public void GoodInput_IsReadWithExpectedRowsAndColumns(string file, int rows, string columns, string notes)
    {
        // Arrange
        var path = RepositoryFiles.PathOf("tests", "corpus", "good-inputs", file);
        var (options, _) = RepositoryFiles.OptionsFromNotes(notes);

        // Act
        var (actualColumns, actualRows) = Read.All(path, options);

        // Assert
        Assert.Equal(columns.Split('|'), actualColumns);
        Assert.Equal(rows, actualRows.Count);
        Assert.All(actualRows, row => Assert.DoesNotContain(row.Values, v => v is not null && v.Contains('\uFFFD', StringComparison.Ordinal)));
    }
}
