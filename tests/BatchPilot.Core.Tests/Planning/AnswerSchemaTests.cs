using BatchPilot.Errors;
using BatchPilot.Planning;
using BatchPilot.Providers;

namespace BatchPilot.Core.Tests.Planning;

public sealed class AnswerSchemaTests
{
    private const string Schema = """
        {
          "title": "Avis client",
          "type": "object",
          "properties": {
            "sentiment": { "type": "string", "enum": ["positif", "négatif"] },
            "score": { "type": "integer", "minimum": 1, "maximum": 5 },
            "résumé": { "type": ["string", "null"] }
          },
          "required": ["sentiment", "score", "résumé"],
          "additionalProperties": false
        }
        """;

    [Fact]
    public void Parse_TitleBecomesTheName_AndPropertiesKeepTheirOrder()
    {
        var schema = AnswerSchema.Parse(Schema, "avis.json", ProviderNames.OpenAI);

        Assert.Equal("Avis_client", schema.Format.Name);
        Assert.Equal(["sentiment", "score", "résumé"], schema.Properties);
        Assert.StartsWith("{\"title\":\"Avis client\",\"type\":\"object\"", schema.Format.SchemaJson, StringComparison.Ordinal);
        Assert.Contains("\"négatif\"", schema.Format.SchemaJson, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_GoodAnswer_IsNull_BadAnswersSayWhy()
    {
        var schema = AnswerSchema.Parse(Schema, "avis.json", ProviderNames.OpenAI);

        Assert.Null(schema.Validate("{\"sentiment\":\"négatif\",\"score\":2,\"résumé\":null}"));
        Assert.StartsWith("the answer is not valid JSON: ", schema.Validate("Voici mon avis : positif"), StringComparison.Ordinal);
        var wrong = schema.Validate("{\"sentiment\":\"neutre\",\"score\":9,\"résumé\":\"x\"}")!;
        Assert.StartsWith("the answer does not match the schema: ", wrong, StringComparison.Ordinal);
        Assert.Contains("/sentiment", wrong, StringComparison.Ordinal);
        Assert.Contains("/score", wrong, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_TurnsAnInvalidSuccessIntoARetryableFailure_AndLeavesOthersAlone()
    {
        var schema = AnswerSchema.Parse(Schema, "avis.json", ProviderNames.Anthropic);
        var ok = new ResultLine { CustomId = "a", Kind = ResultKind.Succeeded, Text = "{\"sentiment\":\"positif\",\"score\":5,\"résumé\":\"très bien\"}" };
        var bad = ok with { Text = "{\"sentiment\":\"positif\"}" };
        var failed = new ResultLine { CustomId = "c", Kind = ResultKind.Failed, ErrorCode = "server_error" };

        Assert.Same(ok, schema.Check(ok));
        Assert.Same(failed, schema.Check(failed));
        var checkedBad = schema.Check(bad);
        Assert.Equal(ResultKind.Failed, checkedBad.Kind);
        Assert.Equal(AnswerSchema.ValidationFailedCode, checkedBad.ErrorCode);
        Assert.Equal(bad.Text, checkedBad.Text);
        Assert.DoesNotContain(AnswerSchema.ValidationFailedCode, BatchPilot.Running.JobEngine.NonRetryableCodes);
    }

    [Fact]
    public void Parse_StrictRulesApplyToOpenAIOnly()
    {
        const string loose = """{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"string"}}}}}""";

        var ex = Assert.Throws<InputException>(() => AnswerSchema.Parse(loose, "loose.json", ProviderNames.OpenAI));
        var anthropic = AnswerSchema.Parse(loose, "loose.json", ProviderNames.Anthropic);

        Assert.Equal("the schema cannot be used with OpenAI strict structured output: the object at '#' must set \"additionalProperties\": false", ex.Message);
        Assert.Equal("loose.json", ex.File);
        Assert.Equal("loose", anthropic.Format.Name);
    }

    [Fact]
    public void Parse_NestedObjectBreakingStrictMode_IsNamedByItsPath()
    {
        const string nested = """{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}},"required":["a"],"additionalProperties":false}""";

        var ex = Assert.Throws<InputException>(() => AnswerSchema.Parse(nested, "n.json", ProviderNames.OpenAI));

        Assert.Equal("the schema cannot be used with OpenAI strict structured output: the object at '#/properties/a' must set \"additionalProperties\": false", ex.Message);
    }

    [Fact]
    public void Parse_NotJson_NamesTheLine()
    {
        var ex = Assert.Throws<InputException>(() => AnswerSchema.Parse("{\n  \"type\": \"object\",\n  oops\n}", "bad.json", ProviderNames.OpenAI));

        Assert.Equal(3, ex.Row);
        Assert.StartsWith("the schema is not valid JSON", ex.Message, StringComparison.Ordinal);
    }
    [Fact]
    public void Parse_SameSchemaWithAnIdTwice_BothWork()
    {
        const string withId = """{"$id":"https://example.com/avis.json","type":"object","properties":{"a":{"$ref":"#/$defs/s"}},"required":["a"],"additionalProperties":false,"$defs":{"s":{"type":"string"}}}""";

        var first = AnswerSchema.Parse(withId, "avis.json", ProviderNames.OpenAI);
        var second = AnswerSchema.Parse(withId, "avis.json", ProviderNames.OpenAI);

        Assert.Null(first.Validate("{\"a\":\"x\"}"));
        Assert.NotNull(second.Validate("{\"a\":1}"));
    }
}
