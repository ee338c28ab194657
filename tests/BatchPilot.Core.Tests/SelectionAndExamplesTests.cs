using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Running;

namespace BatchPilot.Core.Tests;

public sealed class SelectionAndExamplesTests
{
    private static readonly string[] Columns = ["id", "Image Path"];

    private static JobSpec Spec() => new()
    {
        InputPath = "a.csv",
        InputSha256 = "abc",
        Provider = "openai",
        Model = "gpt-4o-mini",
        Prompt = "{{id}}",
        Endpoint = "emulator",
    };

    private static SourceRow[] Rows() =>
        [new(1, 2, ["1", "a.png"]), new(2, 3, ["2", "b=c.png"]), new(3, 4, ["3", "a.png"]), new(4, 5, ["4", "a.png"])];

    [Fact]
    public void Fingerprint_UnchangedWhenNewFieldsAreEmpty_ChangedWhenSet()
    {
        var baseline = Spec().Fingerprint();

        Assert.Equal(baseline, (Spec() with { Examples = [], Where = [] }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { Examples = [new FewShotExample("a", "b")] }).Fingerprint());
        Assert.NotEqual((Spec() with { Examples = [new FewShotExample("a", "b")] }).Fingerprint(), (Spec() with { Examples = [new FewShotExample("a", "c")] }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { Where = [new RowFilter("id", "1")] }).Fingerprint());
        Assert.NotEqual(baseline, (Spec() with { Limit = 2 }).Fingerprint());
    }

    [Fact]
    public void Select_AppliesRowRangeThenWhereThenLimit()
    {
        var spec = Spec() with { StartRow = 2, Where = [new RowFilter("Image Path", "a.png")], Limit = 1 };

        var rows = JobIngest.Select(spec, Columns, Rows()).Select(r => r.Index).ToArray();

        Assert.Equal([3L], rows);
    }

    [Fact]
    public void Select_UnknownWhereColumn_NamesTheAvailableColumns()
    {
        var spec = Spec() with { Where = [new RowFilter("nope", "1")] };

        var ex = Assert.Throws<InputException>(() => JobIngest.Select(spec, Columns, Rows()));

        Assert.Equal("a.csv: '--where': the column 'nope' is not in the input. Use one of: id, Image Path.", ex.ToUserLine());
    }

    [Fact]
    public void FewShotFile_ReadsPairs_AndNamesTheBadLine()
    {
        var examples = FewShotFile.Read(new StringReader("{\"input\":\"hi\",\"output\":\"HI\"}\n\n{\"input\":\"a\",\"output\":\"A\"}\n"), "ex.jsonl");
        var ex = Assert.Throws<InputException>(() => FewShotFile.Read(new StringReader("{\"input\":\"hi\"}\n"), "ex.jsonl"));

        Assert.Equal([new FewShotExample("hi", "HI"), new FewShotExample("a", "A")], examples);
        Assert.StartsWith("ex.jsonl, row 1: '--examples': the line needs string fields \"input\" and \"output\".", ex.ToUserLine(), StringComparison.Ordinal);
    }

    [Fact]
    public void RequestFactory_SendsExamplesAsPriorTurns()
    {
        var spec = Spec() with { Examples = [new FewShotExample("q", "a")] };

        var request = new RequestFactory(spec, Columns).Create(["7", "x"]);

        Assert.Equal([new Providers.ChatTurn("user", "q"), new Providers.ChatTurn("assistant", "a")], request.PriorTurns);
        Assert.Equal("7", request.UserText);
    }
}
