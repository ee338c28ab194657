using System.Text.RegularExpressions;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// Every file of tests/corpus/bad-inputs through the real 'run' command: exit code 2, exactly one line on stderr
/// matching the case's pattern, no output file, no job in the store, nothing sent.
/// </summary>
public sealed partial class BadInputTests
{
    [GeneratedRegex("\"[^\"]*\"|\\S+")]
    private static partial Regex Token();

    private static string CorpusFolder() => RepositoryRoot.PathOf("tests", "corpus", "bad-inputs");

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var line in File.ReadAllLines(Path.Combine(CorpusFolder(), "cases.tsv")))
        {
            var parts = line.Split('\t');
            if (parts.Length >= 3)
            {
                data.Add(parts[0], parts[1], parts[2]);
            }
        }

        return data;
    }

    [Fact]
    public void Corpus_HasAtLeastThirtyCases() => Assert.True(Cases().Count >= 30);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Run_BadInput_OneLineExit2NoOutputNoJob(string file, string pattern, string notes)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = new CliRunner(ws).WithEmulator(emu);
        var input = notes.Contains("path: as-is", StringComparison.Ordinal) ? file : Path.Combine(CorpusFolder(), file);
        var flagIndex = notes.IndexOf("flags:", StringComparison.Ordinal);
        var flags = flagIndex < 0 ? [] : Token().Matches(notes[(flagIndex + 6)..]).Select(m => m.Value.Trim('"')).ToList();
        var args = new List<string> { "run", input, "--model", "gpt-4o-mini", "--out", ws.PathOf("out.csv") };
        if (!flags.Contains("--prompt"))
        {
            args.AddRange(["--prompt", "Summarise this row."]);
        }

        args.AddRange(flags);

        var r = await cli.RunAsync([.. args]);

        Assert.True(r.ExitCode == 2, $"{file}: {r}");
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"{file}: expected one line, got:\n{r.StdErr}");
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Matches(new Regex(pattern), lines[0]);
        Assert.DoesNotContain("   at ", r.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(ws.PathOf("out.csv")));
        Assert.Empty(Directory.GetFiles(ws.Root, "*.tmp"));
        Assert.Empty(emu.Server.ListBatches());
        Assert.Equal("[]", (await cli.RunAsync("jobs", "--json")).StdOut.Trim());
    }
}
