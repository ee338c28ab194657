using System.Text.RegularExpressions;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>The README's commands are run as written (against the emulator), so the README stays true.</summary>
public sealed partial class ReadmeTests
{
    private const string Prefix = "dotnet run --project src/BatchPilot.Cli -c Release -- ";

    [GeneratedRegex("\"[^\"]*\"|\\S+")]
    private static partial Regex Token();

    private static string RepoRoot() => RepositoryRoot.Path;

    private static string[] Args(string commandLine) =>
        Token().Matches(commandLine[Prefix.Length..]).Select(m => m.Value.Trim('"')).ToArray();

    [Fact]
    public async Task QuickStart_FirstCommand_RunsTheExampleJobOnTheEmulator()
    {
        // Given the README's first command, run from a copy of the repository's examples
        var root = RepoRoot();
        var readme = await File.ReadAllLinesAsync(Path.Combine(root, "README.md"));
        var command = readme.First(l => l.StartsWith(Prefix, StringComparison.Ordinal) && l.Contains("--emulator", StringComparison.Ordinal));
        Assert.Contains(readme, l => l.Trim() == "dotnet test BatchPilot.slnx");
        using var ws = new TempWorkspace();
        CopyExamples(root, ws);

        var cli = new CliRunner(ws).With("BATCHPILOT_EMULATOR_BATCH_DURATION", "0");

        // When it runs
        var r = await cli.RunAsync(Args(command));

        // Then the 200 reviews went out in 4 batches and came back merged, in order
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("reviews.results.csv")));
        Assert.Equal(201, rows.Count);
        Assert.Equal(["review_id", "product", "rating", "review_text", "response", "status", "error", "input_tokens", "output_tokens", "cost_usd"], rows[0]);
        Assert.All(rows.Skip(1), row => Assert.Equal("succeeded", row[5]));
        Assert.Equal("R0001", rows[1][0]);
        Assert.Equal("R0200", rows[200][0]);
        Assert.Contains(rows[1][3], rows[1][4], StringComparison.Ordinal);
        Assert.Matches("Batches +│ 4 ", r.StdOut);
    }

    [Fact]
    public async Task SubmitFileExample_RunsOnTheEmulator_AndWritesTheProviderFormatOutput()
    {
        // Given the README's submit-file command, run from a copy of the repository's examples
        var root = RepoRoot();
        var readme = await File.ReadAllLinesAsync(Path.Combine(root, "README.md"));
        var command = readme.First(l => l.StartsWith(Prefix + "submit-file", StringComparison.Ordinal));
        using var ws = new TempWorkspace();
        CopyExamples(root, ws);

        var cli = new CliRunner(ws).With("BATCHPILOT_EMULATOR_BATCH_DURATION", "0");

        // When it runs
        var r = await cli.RunAsync(Args(command));

        // Then the output file has one OpenAI output line per request, in input order
        Assert.True(r.ExitCode == 0, r.ToString());
        var input = await File.ReadAllLinesAsync(ws.PathOf("examples/openai-batch.jsonl"));
        var output = await File.ReadAllLinesAsync(ws.PathOf("openai-batch.output.jsonl"));
        Assert.Equal(
            input.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("custom_id").GetString()),
            output.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("custom_id").GetString()));
        Assert.All(output, l => Assert.Equal(200, System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("response").GetProperty("status_code").GetInt32()));
    }

    [Fact]
    public async Task ComparisonExample_RunsBothModelsOnTheEmulator_AndWritesTheirAnswersSideBySide()
    {
        // Given the README's comparison command, run from a copy of the repository's examples
        var root = RepoRoot();
        var readme = await File.ReadAllLinesAsync(Path.Combine(root, "README.md"));
        var command = readme.First(l => l.StartsWith(Prefix + "run", StringComparison.Ordinal) && l.Contains("--model gpt-4o-mini,claude-haiku-4-5", StringComparison.Ordinal));
        using var ws = new TempWorkspace();
        CopyExamples(root, ws);
        var cli = new CliRunner(ws).With("BATCHPILOT_EMULATOR_BATCH_DURATION", "0");

        // When it runs
        var r = await cli.RunAsync(Args(command));

        // Then the 200 reviews are there once, each with both models' answers to its own prompt
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("reviews.compare.csv")));
        Assert.Equal(201, rows.Count);
        Assert.Equal(["review_id", "product", "rating", "review_text", "response [gpt-4o-mini]", "status [gpt-4o-mini]"], rows[0][..6]);
        Assert.Equal("response [claude-haiku-4-5]", rows[0][9]);
        Assert.All(rows.Skip(1), row =>
        {
            Assert.Contains(row[3], row[4], StringComparison.Ordinal);
            Assert.Equal(row[4], row[9]);
            Assert.Equal(("succeeded", "succeeded"), (row[5], row[10]));
        });
    }

    private static void CopyExamples(string root, TempWorkspace ws)
    {
        Directory.CreateDirectory(ws.PathOf("examples"));
        foreach (var f in Directory.GetFiles(Path.Combine(root, "examples")))
        {
            File.Copy(f, ws.PathOf("examples/" + Path.GetFileName(f)));
        }
    }
}
