using BatchPilot.Errors;
using BatchPilot.Planning;

namespace BatchPilot.Core.Tests;

public sealed class PromptTemplateTests
{
    private static readonly string[] Columns = ["Image Path", "Content of P*", "name"];

    [Fact]
    public void Render_FillsPlaceholdersWithSpacesAndPunctuationInNames()
    {
        var t = PromptTemplate.Compile("Describe {{ Image Path }} for {{name}}: {{Content of P*}}.", Columns);

        var text = t.Render(["img/a.png", "Bonjour 你好", "Ana"]);

        Assert.Equal("Describe img/a.png for Ana: Bonjour 你好.", text);
        Assert.Equal(["Image Path", "name", "Content of P*"], t.Placeholders);
    }

    [Fact]
    public void Render_NullValue_RendersEmpty_AndTextWithoutPlaceholdersIsKept()
    {
        Assert.Equal("a  b", PromptTemplate.Compile("a {{name}} b", Columns).Render([null, null, null]));
        Assert.Equal("plain {text}", PromptTemplate.Compile("plain {text}", Columns).Render(["x", "y", "z"]));
    }

    [Fact]
    public void Compile_UnknownPlaceholder_NamesItAndTheAvailableColumns()
    {
        var ex = Assert.Throws<InputException>(() => PromptTemplate.Compile("Hello {{nom}}", Columns, "--prompt", "in.csv"));

        Assert.Equal("'--prompt': the template uses the placeholder {{nom}} but the input in.csv has no such column. Use one of: {{Image Path}}, {{Content of P*}}, {{name}}.", ex.ToUserLine());
    }

    [Fact]
    public void Compile_MatchesColumnsCaseInsensitivelyWhenNoExactMatch()
    {
        Assert.Equal("x=1", PromptTemplate.Compile("x={{NAME}}", Columns).Render(["", "", "1"]));
    }
}
