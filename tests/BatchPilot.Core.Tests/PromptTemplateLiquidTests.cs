using System.Diagnostics;
using BatchPilot.Errors;
using BatchPilot.Planning;
using Xunit.Abstractions;

namespace BatchPilot.Core.Tests;

public sealed class PromptTemplateLiquidTests(ITestOutputHelper output)
{
    private static readonly string[] Columns = ["Image Path", "Content of P*", "name"];

    [Fact]
    public void Render_PlainTemplate_IsIdenticalThroughLiquid()
    {
        // Given a plain template and the same one forced through Liquid by an empty raw block
        var plain = PromptTemplate.Compile("Describe {{ Image Path }} for {{name}}: {{Content of P*}}.\n<b>&\"x\"</b> {text}", Columns);
        var liquid = PromptTemplate.Compile("Describe {{ Image Path }} for {{name}}: {{Content of P*}}.{% raw %}{% endraw %}\n<b>&\"x\"</b> {text}", Columns);
        string?[] row = ["img/a.png", "Bonjour 你好 <&>", null];

        // When / Then
        Assert.False(plain.UsesLiquid);
        Assert.True(liquid.UsesLiquid);
        Assert.Equal(plain.Render(row), liquid.Render(row));
        Assert.Equal("Describe img/a.png for : Bonjour 你好 <&>.\n<b>&\"x\"</b> {text}", liquid.Render(row));
        Assert.Equal(plain.Placeholders, liquid.Placeholders);
    }

    [Fact]
    public void Render_ConditionalOnRowObject_WithSpacesInColumnName()
    {
        var t = PromptTemplate.Compile("{% if row[\"Image Path\"] != blank %}See {{Image Path}}.{% else %}No image.{% endif %}", Columns);

        Assert.Equal("See a.png.", t.Render(["a.png", "", ""]));
        Assert.Equal("No image.", t.Render(["", "", ""]));
        Assert.Equal("No image.", t.Render([null, "", ""]));
    }

    [Fact]
    public void Render_IdentifierColumnsAreTopLevelVariables_AndLoopsWork()
    {
        var t = PromptTemplate.Compile("{% if name == \"Ana\" %}Hi {{ name | upcase }}{% endif %}{% assign chars = name | split: \"\" %}{% for w in chars %}[{{ w }}]{% endfor %}", Columns);

        Assert.Equal("Hi ANA[A][n][a]", t.Render(["", "", "Ana"]));
    }

    [Fact]
    public void Render_TruncateAndJsonFilters()
    {
        var t = PromptTemplate.Compile("{{ Content of P* | truncate: 8 }}|{\"t\": \"{{ Content of P* | json }}\"}", Columns);

        var text = t.Render(["", "Hello \"world\"\n\\ 你好", ""]);

        Assert.Equal("Hello...|{\"t\": \"Hello \\\"world\\\"\\n\\\\ 你好\"}", text);
    }

    [Fact]
    public void Compile_UnknownPlaceholderWithFilter_NamesItAndTheColumns()
    {
        var ex = Assert.Throws<InputException>(() => PromptTemplate.Compile("{% if name %}{{ nom | upcase }}{% endif %}", Columns, "--prompt", "in.csv"));

        Assert.Equal("'--prompt': the template uses the placeholder {{nom | upcase}} but the input in.csv has no such column. Use one of: {{Image Path}}, {{Content of P*}}, {{name}}.", ex.ToUserLine());
    }

    [Fact]
    public void Compile_LoopAndAssignedVariables_AreNotUnknownPlaceholders()
    {
        var t = PromptTemplate.Compile("{% assign who = name | downcase %}{{ who }}{% capture c %}x{% endcapture %}{{ c }}", Columns);

        Assert.Equal("anax", t.Render(["", "", "Ana"]));
    }

    [Fact]
    public void Compile_LiquidSyntaxError_NamesTheOptionAndTheLineAndColumn()
    {
        var ex = Assert.Throws<InputException>(() => PromptTemplate.Compile("Hello {{ Image Path }}\n{% if name %}x", Columns, "--system"));

        var line = ex.ToUserLine();
        Assert.StartsWith("'--system': the template is not valid Liquid: ", line, StringComparison.Ordinal);
        Assert.Contains("at line 2, column", line, StringComparison.Ordinal);
        output.WriteLine(line);
    }

    [Fact]
    public void Render_Throughput_IsReported()
    {
        string[] columns = ["id", "product", "review_text"];
        string?[] row = ["42", "Kettle", "Boils fast, but the lid is flimsy and the handle gets hot."];
        var plain = PromptTemplate.Compile("Rate the review of {{product}} (1-5): {{review_text}}", columns);
        var liquid = PromptTemplate.Compile("Rate the review of {{product}} (1-5): {{ review_text | truncate: 500 }}", columns);
        const int n = 200_000;

        foreach (var (label, t) in new[] { ("plain", plain), ("liquid", liquid) })
        {
            var sw = Stopwatch.StartNew();
            long chars = 0;
            for (var i = 0; i < n; i++)
            {
                chars += t.Render(row).Length;
            }

            sw.Stop();
            output.WriteLine($"{label}: {n / sw.Elapsed.TotalSeconds:N0} rows/s ({chars} chars)");
            Assert.True(chars > 0);
        }
    }
}
