using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;

namespace BatchPilot.Emulator.Tests;

/// <summary>Image parts are checked like the real APIs and mentioned in the answers; schema requests get conforming JSON.</summary>
public sealed class VisionAndSchemaTests
{
    // A 1x1 PNG (header and IHDR are enough for the emulator's check).
    private static readonly byte[] Png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==");

    private const string Schema = """{"type":"object","properties":{"label":{"type":"string","enum":["chat","chien"]},"n":{"type":"integer","minimum":3,"maximum":3},"items":{"type":"array","minItems":2,"items":{"type":"object","properties":{"x":{"type":"boolean"}},"required":["x"],"additionalProperties":false}},"note":{"type":["string","null"]}},"required":["label","n","items","note"],"additionalProperties":false}""";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task OpenAISdk_ImagePartAndJsonSchema_AnswerConformsAndMentionsTheImage()
    {
        await using var server = await TestKit.StartAsync();
        var client = new OpenAIClient(new ApiKeyCredential("sk-test-key"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });
        var chat = client.GetChatClient("gpt-4o");
        var message = new UserChatMessage(ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(Png), "image/png"), ChatMessageContentPart.CreateTextPart("Qu'est-ce que c'est ?"));
        var options = new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("animal", BinaryData.FromString(Schema), jsonSchemaIsStrict: true) };

        ChatCompletion completion = await chat.CompleteChatAsync([message], options);

        using var answer = JsonDocument.Parse(completion.Content[0].Text);
        var root = answer.RootElement;
        Assert.Contains(root.GetProperty("label").GetString(), new[] { "chat", "chien" });
        Assert.Equal(3, root.GetProperty("n").GetInt32());
        Assert.Equal(2, root.GetProperty("items").GetArrayLength());
        Assert.True(root.GetProperty("items")[0].GetProperty("x").ValueKind is JsonValueKind.True or JsonValueKind.False);
        Assert.Equal(4, root.EnumerateObject().Count());
    }

    [Fact]
    public async Task OpenAIChat_TextOnlyAnswer_SaysWhichImagesArrived()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        var b64 = Convert.ToBase64String(Png);
        var body = $$$$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{{{b64}}}}}"}},{"type":"image_url","image_url":{"url":"https://example.com/a.jpg"}},{"type":"text","text":"请描述"}]}]}""";

        using var r = await http.PostAsync("v1/chat/completions", Json(body));

        var text = (await TestKit.ReadJsonAsync(r)).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        Assert.Equal($"Emulated answer to: 请描述 [2 images: image/png, {Png.Length} bytes; url https://example.com/a.jpg]", text);
    }

    [Theory]
    [InlineData("data:image/gif;base64,{png}", 400, "invalid_image_format", "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].")]
    [InlineData("data:image/png;base64,@@@", 400, "invalid_value", "Invalid 'messages[0].content[0].image_url.url'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an invalid value.")]
    public async Task OpenAIChat_BadImage_Returns400LikeTheApi(string url, int status, string code, string message)
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        var body = $$$$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"{{{{{url.Replace("{png}", Convert.ToBase64String(Encoding.ASCII.GetBytes("GIF? no, text")), StringComparison.Ordinal)}}}}}"}}]}]}""";

        using var r = await http.PostAsync("v1/chat/completions", Json(body));

        Assert.Equal(status, (int)r.StatusCode);
        var error = (await TestKit.ReadJsonAsync(r)).GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(message, error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("image/bmp", "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")]
    [InlineData("image/jpeg", "messages.0.content.0.image.source.base64.data: Image does not match the provided media type image/jpeg")]
    public async Task AnthropicMessages_BadImage_Returns400LikeTheApi(string mediaType, string message)
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.AnthropicHttp(server);
        var body = $$$$$"""{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"{{{{{mediaType}}}}}","data":"{{{{{Convert.ToBase64String(Png)}}}}}"}},{"type":"text","text":"x"}]}]}""";

        using var r = await http.PostAsync("v1/messages", Json(body));

        Assert.Equal(400, (int)r.StatusCode);
        var error = (await TestKit.ReadJsonAsync(r)).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(message, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AnthropicMessages_ForcedTool_AnswersWithAToolUseBlock_AndTheFaultBreaksTheSchema()
    {
        await using var server = await TestKit.StartAsync(o => o.Faults = FaultScenario.ParseFlags(["items:error=schema_violation:firstAttemptOnly"]));
        using var http = TestKit.AnthropicHttp(server);
        var body = $$$$$"""{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"{{{{{Convert.ToBase64String(Png)}}}}}"}},{"type":"text","text":"Quel animal ?"}]}],"tools":[{"name":"animal","input_schema":{{{{{Schema}}}}}}],"tool_choice":{"type":"tool","name":"animal"}}""";

        using var first = await http.PostAsync("v1/messages", Json(body));
        using var second = await http.PostAsync("v1/messages", Json(body));

        var broken = (await TestKit.ReadJsonAsync(first)).GetProperty("content")[0];
        var good = await TestKit.ReadJsonAsync(second);
        Assert.Equal("tool_use", broken.GetProperty("type").GetString());
        Assert.False(broken.GetProperty("input").TryGetProperty("label", out _));
        Assert.Equal("tool_use", good.GetProperty("stop_reason").GetString());
        var block = good.GetProperty("content")[0];
        Assert.Equal("animal", block.GetProperty("name").GetString());
        Assert.StartsWith("toolu_01", block.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, block.GetProperty("input").GetProperty("n").GetInt32());
        Assert.Equal(JsonValueKind.String, block.GetProperty("input").GetProperty("note").ValueKind);
    }
    [Fact]
    public async Task OpenAIBatch_BadImageLine_GoesToTheErrorFileWithStatus400_GoodLineAnswers()
    {
        await using var server = await TestKit.StartAsync(o => o.BatchDuration = TimeSpan.Zero);
        using var http = TestKit.OpenAIHttp(server);
        string Line(string id, string url) => JsonSerializer.Serialize(new
        {
            custom_id = id,
            method = "POST",
            url = "/v1/chat/completions",
            body = new { model = "gpt-4o", messages = new object[] { new { role = "user", content = new object[] { new { type = "image_url", image_url = new { url } }, new { type = "text", text = "Décris" } } } } },
        });
        var input = Line("good", "data:image/png;base64," + Convert.ToBase64String(Png)) + "\n" + Line("bad", "data:image/bmp;base64," + Convert.ToBase64String(Png)) + "\n";

        var batch = await TestKit.CreateOpenAIBatchAsync(http, await TestKit.UploadAsync(http, input));
        var done = (await TestKit.GetJsonAsync(http, $"v1/batches/{batch.GetProperty("id").GetString()}")).Json;

        var output = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{done.GetProperty("output_file_id").GetString()}/content"));
        var errors = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{done.GetProperty("error_file_id").GetString()}/content"));
        Assert.Equal($"Emulated answer to: Décris [1 image: image/png, {Png.Length} bytes]", Assert.Single(output).GetProperty("response").GetProperty("body").GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        var bad = Assert.Single(errors);
        Assert.Equal("bad", bad.GetProperty("custom_id").GetString());
        Assert.Equal(400, bad.GetProperty("response").GetProperty("status_code").GetInt32());
        Assert.Equal("invalid_image_format", bad.GetProperty("response").GetProperty("body").GetProperty("error").GetProperty("code").GetString());
    }
}
