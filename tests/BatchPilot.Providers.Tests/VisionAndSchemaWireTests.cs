using System.Text;
using System.Text.Json;
using BatchPilot.Providers.Anthropic;
using BatchPilot.Providers.OpenAI;
using BatchPilot.Testing;

namespace BatchPilot.Providers.Tests;

/// <summary>Image parts and structured output on the wire, exactly as sent, and read back from the providers' answers.</summary>
public sealed class VisionAndSchemaWireTests
{
    private static readonly string Png = RepositoryRoot.PathOf("tests", "corpus", "images", "red-4x3.png");

    private static LlmRequest Request(string model) => new()
    {
        Model = model,
        UserText = "Décris",
        Images =
        [
            new ImagePart { Kind = ImageSourceKind.File, Value = Png, MediaType = "image/png", Length = new FileInfo(Png).Length },
            new ImagePart { Kind = ImageSourceKind.Url, Value = "https://example.com/a.jpg" },
        ],
        ResponseFormat = new ResponseFormat("avis", """{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}"""),
    };

    private static string Write(Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            write(w);
        }

        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static string B64 => Convert.ToBase64String(File.ReadAllBytes(Png));

    [Fact]
    public void OpenAIBody_ImagesAndSchema_ContentArrayAndResponseFormat()
    {
        var body = Write(w => OpenAIBatchClient.WriteBody(w, Request("gpt-4o")));

        Assert.Equal(
            $$$$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{{{B64}}}}}"}},{"type":"image_url","image_url":{"url":"https://example.com/a.jpg"}},{"type":"text","text":"D\u00E9cris"}]}],"response_format":{"type":"json_schema","json_schema":{"name":"avis","schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false},"strict":true}}}""",
            body);
    }

    [Fact]
    public void ResponsesBody_ImagesAndSchema_UserMessageWithInputPartsAndTextFormat()
    {
        var body = Write(w => ResponsesBody.Write(w, Request("gpt-4o")));

        Assert.Equal(
            $$$$$"""{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,{{{{{B64}}}}}"},{"type":"input_image","image_url":"https://example.com/a.jpg"},{"type":"input_text","text":"D\u00E9cris"}]}],"text":{"format":{"type":"json_schema","name":"avis","schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false},"strict":true}},"store":false}""",
            body);
    }

    [Fact]
    public void AnthropicParams_ImagesAndSchema_Base64AndUrlSourcesAndAForcedTool()
    {
        var body = Write(w => AnthropicBatchClient.WriteParams(w, Request("claude-haiku-4-5")));

        Assert.Equal(
            $$$$$"""{"model":"claude-haiku-4-5","max_tokens":1024,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"{{{{{B64}}}}}"}},{"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}},{"type":"text","text":"D\u00E9cris"}]}],"tools":[{"name":"avis","description":"Give the answer in this structure.","input_schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}],"tool_choice":{"type":"tool","name":"avis"}}""",
            body);
    }

    [Theory]
    [InlineData("openai")]
    [InlineData("anthropic")]
    public void MeasureRequest_CountsTheBase64WithoutReadingTheFile_AndMatchesTheWrittenSize(string provider)
    {
        // The part names a file length the file does not have: measuring must use the length, not the bytes.
        using var client = BatchClients.Create(new BatchClientOptions { Provider = provider, BaseUrl = new Uri("http://127.0.0.1:9"), ApiKey = "k", SpoolDirectory = Path.GetTempPath() });
        var request = new IdentifiedRequest("row-1", Request(provider == "openai" ? "gpt-4o" : "claude-haiku-4-5"));
        var bigger = request with { Request = request.Request with { Images = [request.Request.Images[0] with { Length = 300_000 }, request.Request.Images[1]] } };

        var measured = client.MeasureRequest(request);
        var measuredBigger = client.MeasureRequest(bigger);

        var body = Write(w => ProviderRequestBodies.Write(w, provider, request.Request));
        Assert.True(measured > Encoding.UTF8.GetByteCount(body), $"{measured} vs {body.Length}");
        Assert.Equal(measured + (400_000 - 132), measuredBigger);
    }

    [Fact]
    public void AnthropicResult_ToolUse_TheToolInputIsTheAnswer()
    {
        const string line = """{"custom_id":"row-1","result":{"type":"succeeded","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"tool_use","id":"toolu_01","name":"avis","input":{"a":"très bien","n":[1, 2]}}],"stop_reason":"tool_use","usage":{"input_tokens":500,"output_tokens":20}}}}""";

        var r = AnthropicBatchClient.ParseResultLine(line, "results line 1");

        Assert.Equal(ResultKind.Succeeded, r.Kind);
        Assert.Equal("""{"a":"très bien","n":[1,2]}""", r.Text);
    }
    [Fact]
    public void ResponsesParts_ImageAndTextFormat_HaveTheResponsesShapes()
    {
        var r = Request("gpt-4o");

        var image = Write(w => ImageParts.WriteResponses(w, r.Images[0]));
        var url = Write(w => ImageParts.WriteResponses(w, r.Images[1]));
        var format = Write(w =>
        {
            w.WriteStartObject();
            OpenAIBatchClient.WriteTextFormat(w, r.ResponseFormat!);
            w.WriteEndObject();
        });

        Assert.Equal($$$$$"""{"type":"input_image","image_url":"data:image/png;base64,{{{{{B64}}}}}"}""", image);
        Assert.Equal("""{"type":"input_image","image_url":"https://example.com/a.jpg"}""", url);
        Assert.Equal("""{"text":{"format":{"type":"json_schema","name":"avis","schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false},"strict":true}}}""", format);
    }
}
