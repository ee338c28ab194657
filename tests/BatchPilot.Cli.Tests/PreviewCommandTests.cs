using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

public sealed class PreviewCommandTests
{
    [Fact]
    public async Task Preview_ShowsTheProviderBody_WithExamplesAndSelection_WithoutAKey()
    {
        using var ws = new TempWorkspace();
        var input = ws.Write("in.csv", "id,Image Path\n1,a.png\n2,\n3,c.png\n");
        var examples = ws.Write("ex.jsonl", "{\"input\":\"hi\",\"output\":\"HI\"}\n");
        var cli = new CliRunner(ws).With("OPENAI_API_KEY", null);

        var r = await cli.RunAsync("preview", input, "--prompt", "{% if row[\"Image Path\"] != blank %}See {{Image Path}}{% else %}none{% endif %}",
            "--examples", examples, "--where", "id=3", "--json");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("\"custom_id\": \"row-3\"", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("\"content\": \"HI\"", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("\"content\": \"See c.png\"", r.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("row-1", r.StdOut, StringComparison.Ordinal);
    }
}
