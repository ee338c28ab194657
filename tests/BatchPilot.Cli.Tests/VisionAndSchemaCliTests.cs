using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// Images as input and structured output through the real CLI and the emulator: a CSV with an <c>Image Path</c> column
/// (spaces in the name), French and Chinese text, real PNG and JPEG files, both providers, batch and sync mode.
/// </summary>
public sealed class VisionAndSchemaCliTests
{
    private const string Prompt = "{{Content of P*}}";

    private const string Schema = """
        {"title":"Description","type":"object",
         "properties":{"caption":{"type":"string"},"score":{"type":"integer","minimum":1,"maximum":5},
                       "tags":{"type":"array","items":{"type":"string"}},
                       "meta":{"type":"object","properties":{"lang":{"type":"string","enum":["fr","zh"]}},"required":["lang"],"additionalProperties":false}},
         "required":["caption","score","tags","meta"],"additionalProperties":false}
        """;

    /// <summary>A data folder with the two images and a CSV naming them (one with a Windows-style path), plus a row without an image.</summary>
    private static string WriteInput(TempWorkspace ws, string? missingRow = null)
    {
        Directory.CreateDirectory(ws.PathOf("data/img"));
        File.Copy(RepositoryRoot.PathOf("tests", "corpus", "images", "red-4x3.png"), ws.PathOf("data/img/" + "red-4x3.png"));
        File.Copy(RepositoryRoot.PathOf("tests", "corpus", "images", "gray-16x8.jpg"), ws.PathOf("data/img/" + "gray-16x8.jpg"));
        var lines = new List<string>
        {
            "id,Image Path,Content of P*",
            "a1,img/red-4x3.png,Décris l'image en français",
            "a2,img\\gray-16x8.jpg,请描述这张图片",
            "a3,,Pas d'image ici",
        };
        if (missingRow is not null)
        {
            lines.Add("a4," + missingRow + ",Où est l'image ?");
        }

        var path = ws.PathOf("data/rows.csv");
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    [Theory]
    [InlineData("gpt-4o-mini", "batch")]
    [InlineData("claude-haiku-4-5", "batch")]
    [InlineData("gpt-4o-mini", "sync")]
    [InlineData("claude-haiku-4-5", "sync")]
    public async Task Run_ImageColumn_SendsEachRowsImageAndMergesTheAnswers(string model, string mode)
    {
        // Given rows naming a PNG, a JPEG (backslash path) and no image, relative to the input's folder
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = WriteInput(ws);
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the job runs with the column named as it is in the file
        var r = await cli.RunAsync("run", input, "-m", model, "-p", Prompt, "--image-column", "Image Path", "--mode", mode, "--out", ws.PathOf("out.csv"));

        // Then each answer shows the image that arrived (type and byte size, detected from the content)
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Csv.Parse(File.ReadAllText(ws.PathOf("out.csv")));
        Assert.Equal(["id", "Image Path", "Content of P*", "response", "status", "error", "input_tokens", "output_tokens", "cost_usd"], rows[0]);
        Assert.Equal("Emulated answer to: Décris l'image en français [1 image: image/png, 99 bytes]", rows[1][3]);
        Assert.Equal("Emulated answer to: 请描述这张图片 [1 image: image/jpeg, 172 bytes]", rows[2][3]);
        Assert.Equal("Emulated answer to: Pas d'image ici", rows[3][3]);
        Assert.All(rows.Skip(1), row => Assert.Equal("succeeded", row[4]));
    }

    [Fact]
    public async Task Run_MissingImage_FailsThatRowOnly_AndResumeSendsItOnceTheFileExists()
    {
        // Given a row whose image does not exist
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = WriteInput(ws, missingRow: "img/later.png");
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the job runs
        var r = await cli.RunAsync("run", input, "-m", "gpt-4o-mini", "-p", Prompt, "--image-column", "Image Path", "--out", ws.PathOf("out.csv"), "--json");

        // Then the other rows succeed, that one fails before sending with a message naming file, row and column, and the exit code says so
        Assert.True(r.ExitCode == 1, r.ToString());
        var rows = Csv.Parse(File.ReadAllText(ws.PathOf("out.csv")));
        Assert.Equal(5, rows.Count);
        Assert.Equal("failed", rows[4][4]);
        Assert.StartsWith("image_not_found: image file not found: 'img/later.png' (row 5, column 'Image Path'; looked in ", rows[4][5], StringComparison.Ordinal);
        Assert.Equal(3, emu.Server.ListBatches().Single().RequestCount);

        // And diagnose says what to do about it
        var job = JsonDocument.Parse(r.StdOut).RootElement.GetProperty("id").GetString()!;
        var diagnosis = await cli.RunAsync("diagnose", job);
        Assert.Contains("image_not_found", diagnosis.StdOut, StringComparison.Ordinal);
        Assert.Contains("These rows were not sent because of their image", diagnosis.StdOut.Replace("\n", " ", StringComparison.Ordinal), StringComparison.Ordinal);

        // When the file appears and the job is resumed
        File.Copy(ws.PathOf("data/img/" + "red-4x3.png"), ws.PathOf("data/img/" + "later.png"));
        var resumed = await cli.RunAsync("resume", job, "--out", ws.PathOf("out2.csv"));

        // Then only that row is sent again, and it succeeds
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal([3, 1], emu.Server.ListBatches().OrderBy(b => b.CreatedAt).Select(b => b.RequestCount).ToArray());
        var after = Csv.Parse(File.ReadAllText(ws.PathOf("out2.csv")));
        Assert.Equal("Emulated answer to: Où est l'image ? [1 image: image/png, 99 bytes]", after[4][3]);
    }

    [Fact]
    public async Task Run_SkipMissingImages_KeepsTheRowWithStatusSkipped_AndListsItInTheSummary()
    {
        // Given a row whose image is a text file with a .png name, in sync mode with Anthropic
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = WriteInput(ws, missingRow: "img/not-an-image.png");
        File.Copy(RepositoryRoot.PathOf("tests", "corpus", "images", "not-an-image.png"), ws.PathOf("data/img/" + "not-an-image.png"));
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the job skips rows with unusable images
        var r = await cli.RunAsync("run", input, "-m", "claude-haiku-4-5", "-p", Prompt, "--image-column", "Image Path", "--skip-missing-images",
            "--mode", "sync", "--out", ws.PathOf("out.csv"), "--json");

        // Then the job counts as a success, the row stays in the output as skipped with the reason, and --json lists it
        Assert.True(r.ExitCode == 0, r.ToString());
        var view = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal(1, view.GetProperty("skipped_images").GetInt64());
        Assert.Equal("row-4", view.GetProperty("skipped_ids")[0].GetString());
        var rows = Csv.Parse(File.ReadAllText(ws.PathOf("out.csv")));
        Assert.Equal(5, rows.Count);
        Assert.Equal("skipped", rows[4][4]);
        Assert.Equal("image_skipped: skipped (--skip-missing-images): 'img/not-an-image.png' is not a PNG, JPEG, GIF or WebP image (checked from its content, not its name) (row 5, column 'Image Path')", rows[4][5]);
    }

    [Theory]
    [InlineData("gpt-4o-mini", "batch")]
    [InlineData("claude-haiku-4-5", "batch")]
    [InlineData("claude-haiku-4-5", "sync")]
    public async Task Run_JsonSchema_ValidatesAnswersAndSpreadsFieldsIntoColumns(string model, string mode)
    {
        // Given a schema with a string, an integer, an array and a nested object
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = WriteInput(ws);
        File.WriteAllText(ws.PathOf("schema.json"), Schema);
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the job runs with images and the schema
        var r = await cli.RunAsync("run", input, "-m", model, "-p", Prompt, "--image-column", "Image Path", "--json-schema", "schema.json", "--mode", mode, "--out", ws.PathOf("out.csv"));

        // Then each top-level field has its column after the response, nested values as compact JSON
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Csv.Parse(File.ReadAllText(ws.PathOf("out.csv")));
        Assert.Equal(["id", "Image Path", "Content of P*", "response", "caption", "score", "tags", "meta", "status", "error", "input_tokens", "output_tokens", "cost_usd"], rows[0]);
        Assert.Equal("caption: 请描述这张图片 [1 image: image/jpeg, 172 bytes]", rows[2][4]);
        Assert.InRange(int.Parse(rows[2][5], System.Globalization.CultureInfo.InvariantCulture), 1, 5);
        Assert.StartsWith("[\"tags: ", rows[2][6], StringComparison.Ordinal);
        Assert.Matches("^\\{\"lang\":\"(fr|zh)\"\\}$", rows[2][7]);
        Assert.All(rows.Skip(1), row => Assert.Equal("succeeded", row[8]));
    }

    [Theory]
    [InlineData("gpt-4o-mini", "batch")]
    [InlineData("claude-haiku-4-5", "sync")]
    public async Task Run_AnswersBreakingTheSchema_FailWithTheValidationError_AndResumeRetriesThem(string model, string mode)
    {
        // Given an emulator whose first answer for every request breaks the schema
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["items:error=schema_violation:firstAttemptOnly"]));
        var input = WriteInput(ws);
        File.WriteAllText(ws.PathOf("schema.json"), Schema);
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When the job runs
        var r = await cli.RunAsync("run", input, "-m", model, "-p", Prompt, "--json-schema", "schema.json", "--mode", mode, "--out", ws.PathOf("out.csv"), "--json");

        // Then every item failed with schema_validation_failed and the validator's message
        Assert.True(r.ExitCode == 1, r.ToString());
        var rows = Csv.Parse(File.ReadAllText(ws.PathOf("out.csv")));
        Assert.All(rows.Skip(1), row =>
        {
            Assert.Equal("failed", row[8]);
            Assert.StartsWith("schema_validation_failed: the answer does not match the schema: ", row[9], StringComparison.Ordinal);
            Assert.Contains("caption", row[9], StringComparison.Ordinal);
        });

        // When the job is resumed (schema failures are retryable)
        var job = JsonDocument.Parse(r.StdOut).RootElement.GetProperty("id").GetString()!;
        var resumed = await cli.RunAsync("resume", job, "--mode", mode, "--out", ws.PathOf("out2.csv"));

        // Then the new answers conform and every item succeeded on attempt 2
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var after = Csv.Parse(File.ReadAllText(ws.PathOf("out2.csv")));
        Assert.All(after.Skip(1), row => Assert.Equal("succeeded", row[8]));
        Assert.StartsWith("caption: ", after[1][4], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preview_Images_AbbreviatesBase64ForPeople_AndJsonShowsTheWholeBody()
    {
        using var ws = new TempWorkspace();
        var input = WriteInput(ws, missingRow: "img/none.png");
        var cli = new CliRunner(ws);

        var human = await cli.RunAsync("preview", input, "-p", Prompt, "--image-column", "Image Path", "--rows", "4", "-m", "claude-haiku-4-5");
        var json = await cli.RunAsync("preview", input, "-p", Prompt, "--image-column", "Image Path", "--rows", "4", "--json");

        Assert.True(human.ExitCode == 0, human.ToString());
        Assert.Contains("\"data\": \"iVBORw0KGgoA…(99 bytes)\"", human.StdOut, StringComparison.Ordinal);
        Assert.Contains("\"media_type\": \"image/jpeg\"", human.StdOut, StringComparison.Ordinal);
        Assert.Contains("# row-4 (anthropic / claude-haiku-4-5): not sent, fails (image_not_found): image file not found: 'img/none.png' (row 5, column 'Image Path'", human.StdOut, StringComparison.Ordinal);
        var bodies = JsonDocument.Parse(json.StdOut).RootElement;
        var url = bodies[0].GetProperty("body").GetProperty("messages")[0].GetProperty("content")[0].GetProperty("image_url").GetProperty("url").GetString()!;
        Assert.Equal("data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(ws.PathOf("data/img/" + "red-4x3.png"))), url);
        Assert.Equal("image_not_found", bodies[3].GetProperty("not_sent").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Estimate_Images_CountsTheProvidersImageTokens()
    {
        using var ws = new TempWorkspace();
        var input = WriteInput(ws, missingRow: "img/none.png");

        var r = await new CliRunner(ws).RunAsync("estimate", input, "-m", "gpt-4o", "-p", Prompt, "--image-column", "Image Path", "--json");

        // Both images fit one 512-px tile: 85 + 170 tokens each with gpt-4o; the row with a missing image is left out
        Assert.True(r.ExitCode == 0, r.ToString());
        var e = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal(2, e.GetProperty("images").GetInt64());
        Assert.Equal(510, e.GetProperty("image_tokens").GetInt64());
        Assert.Equal(1, e.GetProperty("image_problems").GetInt64());
        Assert.Equal(3, e.GetProperty("items").GetInt64());
    }

    [Theory]
    [InlineData("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}",
        "error: schema.json: '--json-schema': the schema cannot be used with OpenAI strict structured output: the object at '#' must set \"additionalProperties\": false. Every object needs \"additionalProperties\": false and all its properties in \"required\" (make optional fields nullable, e.g. \"type\": [\"string\", \"null\"]).")]
    [InlineData("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"number\"}},\"required\":[\"a\"],\"additionalProperties\":false}",
        "error: schema.json: '--json-schema': the schema cannot be used with OpenAI strict structured output: the property 'b' of the object at '#' must be listed in \"required\". Every object needs \"additionalProperties\": false and all its properties in \"required\" (make optional fields nullable, e.g. \"type\": [\"string\", \"null\"]).")]
    [InlineData("[1, 2]",
        "error: schema.json: '--json-schema': the schema must describe an object (\"type\": \"object\" at the top). Wrap the answer in an object: {\"type\":\"object\",\"properties\":{\"answer\":{...}},\"required\":[\"answer\"],\"additionalProperties\":false}.")]
    public async Task Run_UnusableSchema_IsOneLineNamingTheFile(string schema, string expected)
    {
        using var ws = new TempWorkspace();
        var input = WriteInput(ws);
        File.WriteAllText(ws.PathOf("schema.json"), schema);

        var r = await new CliRunner(ws).RunAsync("run", input, "-m", "gpt-4o-mini", "-p", Prompt, "--json-schema", "schema.json", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal(expected, r.StdErr.Trim());
    }

    [Fact]
    public async Task Run_UnknownImageColumn_IsOneLineListingTheColumns()
    {
        using var ws = new TempWorkspace();
        var input = WriteInput(ws);

        var r = await new CliRunner(ws).RunAsync("run", input, "-m", "gpt-4o-mini", "-p", Prompt, "--image-column", "Image", "--emulator");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {input}: '--image-column': the image column 'Image' is not in the input. Use one of: id, Image Path, Content of P* (quote names with spaces: --image-column \"Image Path\").", r.StdErr.Trim());
    }
    [Fact]
    public async Task Run_JsonlInput_ImageKeyWithSpaces_AndSchema_WritesJsonlWithParsedOutput()
    {
        // Given a JSONL input whose keys hold spaces and punctuation, next to its images
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        WriteInput(ws);
        var input = ws.Write("data/rows.jsonl",
            "{\"id\":\"j1\",\"Image Path\":\"img/red-4x3.png\",\"Content of P*\":\"Légende pour « chat »\"}\n"
            + "{\"id\":\"j2\",\"Image Path\":\"img/gray-16x8.jpg\",\"Content of P*\":\"灰色的图\"}\n");
        File.WriteAllText(ws.PathOf("schema.json"), Schema);
        var cli = new CliRunner(ws).WithEmulator(emu);

        // When it runs with the image column and the schema, into a JSONL output
        var r = await cli.RunAsync("run", input, "-m", "claude-haiku-4-5", "-p", Prompt, "--image-column", "Image Path", "--json-schema", "schema.json", "--out", ws.PathOf("out.jsonl"));

        // Then each line carries the parsed answer, which saw the row's image
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = File.ReadAllLines(ws.PathOf("out.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal("caption: Légende pour « chat » [1 image: image/png, 99 bytes]", lines[0].GetProperty("output").GetProperty("caption").GetString());
        Assert.Equal("caption: 灰色的图 [1 image: image/jpeg, 172 bytes]", lines[1].GetProperty("output").GetProperty("caption").GetString());
        Assert.Equal("img/gray-16x8.jpg", lines[1].GetProperty("input").GetProperty("Image Path").GetString());
    }

    [Fact]
    public async Task Estimate_JsonSchema_CountsTheSchemaTokens()
    {
        using var ws = new TempWorkspace();
        var input = WriteInput(ws);
        File.WriteAllText(ws.PathOf("schema.json"), Schema);
        var cli = new CliRunner(ws);

        var plain = await cli.RunAsync("estimate", input, "-m", "claude-haiku-4-5", "-p", Prompt, "--json");
        var schema = await cli.RunAsync("estimate", input, "-m", "claude-haiku-4-5", "-p", Prompt, "--json-schema", "schema.json", "--json");

        // Anthropic: the schema's own tokens plus the 346-token forced-tool system prompt, for each of the 3 rows
        Assert.True(schema.ExitCode == 0, schema.ToString());
        var extra = JsonDocument.Parse(schema.StdOut).RootElement.GetProperty("input_tokens").GetInt64() - JsonDocument.Parse(plain.StdOut).RootElement.GetProperty("input_tokens").GetInt64();
        Assert.InRange(extra, 3 * (346 + 50), 3 * (346 + 200));
    }
}
