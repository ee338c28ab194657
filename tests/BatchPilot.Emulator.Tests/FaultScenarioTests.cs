namespace BatchPilot.Emulator.Tests;

public sealed class FaultScenarioTests
{
    [Fact]
    public void Load_Yaml_ReadsEveryKind()
    {
        var path = Path.Combine(TestKit.TempDir(), "faults.yaml");
        File.WriteAllText(path, """
            seed: 42
            items:
              - error: rate_limit_exceeded
                rate: 0.25
                first_attempt_only: true
                provider: openai
            http:
              - endpoint: POST /v1/batches
                status: 429
                nth: 2
                retryAfterMs: 250
            batches:
              - kind: validation_failure
                code: invalid_json_line
                line: 3
            """);

        var scenario = FaultScenario.Load(path);

        Assert.Equal(42, scenario.Seed);
        var item = Assert.Single(scenario.Items);
        Assert.Equal(("rate_limit_exceeded", 0.25, true, "openai"), (item.Error, item.Rate, item.FirstAttemptOnly, item.Provider));
        var http = Assert.Single(scenario.Http);
        Assert.Equal(("POST", "/v1/batches", 429, 2, 250), (http.Method, http.Path, http.Status, http.Nth!.Value, http.RetryAfterMs!.Value));
        var batch = Assert.Single(scenario.Batches);
        Assert.Equal(("validation_failure", "invalid_json_line", 3), (batch.Kind, batch.Code, batch.Line!.Value));
    }

    [Fact]
    public void Load_Json_WithTabs()
    {
        var path = Path.Combine(TestKit.TempDir(), "faults.json");
        File.WriteAllText(path, "{\n\t\"seed\": 1,\n\t\"http\": [{\"endpoint\": \"GET /v1/batches/{id}\", \"status\": 503, \"rate\": 0.5}]\n}");

        var scenario = FaultScenario.Load(path);

        Assert.Equal(503, Assert.Single(scenario.Http).Status);
        Assert.Equal("/v1/batches/{id}", scenario.Http[0].Path);
    }

    [Fact]
    public void Load_UnknownItemError_NamesFileLineAndColumn()
    {
        var path = Path.Combine(TestKit.TempDir(), "bad.yaml");
        File.WriteAllText(path, "items:\n  - error: exploded\n    rate: 0.1\n");

        var error = Assert.Throws<FaultScenarioException>(() => FaultScenario.Load(path));

        Assert.Equal((2, 5), (error.Line, error.Column));
        Assert.StartsWith($"{path}(2,5): unknown item error 'exploded'", error.Message);
    }

    [Fact]
    public void Load_BrokenJson_NamesFileLineAndColumn()
    {
        var path = Path.Combine(TestKit.TempDir(), "bad.json");
        File.WriteAllText(path, "{\n  \"seed\": 1,\n  \"http\": [ }\n}");

        var error = Assert.Throws<FaultScenarioException>(() => FaultScenario.Load(path));

        Assert.Equal(3, error.Line);
        Assert.Contains("bad.json(3,", error.Message);
    }

    [Fact]
    public void ParseFlags_RejectsUnknownKeysWithTheFlagQuoted()
    {
        var error = Assert.Throws<FormatException>(() => FaultScenario.ParseFlags(["http:POST /v1/batches:status=429:often=yes"]));

        Assert.Equal("--fault 'http:POST /v1/batches:status=429:often=yes': unknown key 'often'.", error.Message);
    }

    [Theory]
    [InlineData("POST", "/v1/batches", "POST", "/v1/batches", true)]
    [InlineData("*", "/v1/batches/{id}", "GET", "/v1/batches/batch_1", true)]
    [InlineData("*", "/v1/batches/{id}", "GET", "/v1/batches/batch_1/cancel", false)]
    [InlineData("*", "/v1/messages/**", "POST", "/v1/messages/batches/x/cancel", true)]
    [InlineData("GET", "*", "POST", "/v1/files", false)]
    public void PathPattern_Matches(string method, string pattern, string actualMethod, string path, bool expected) =>
        Assert.Equal(expected, PathPattern.Matches(method, pattern, actualMethod, path));
}
