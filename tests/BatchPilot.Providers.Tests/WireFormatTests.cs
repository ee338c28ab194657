using System.Text;
using System.Text.Json;
using BatchPilot.Providers;
using BatchPilot.Providers.Anthropic;
using BatchPilot.Providers.OpenAI;

namespace BatchPilot.Providers.Tests;

/// <summary>Request bodies asserted byte for byte, and verbatim provider lines (from the API reference) mapped.</summary>
public sealed class WireFormatTests
{
    private static string Write(Action<Utf8JsonWriter> write) => JsonText.Write(write);

    [Fact]
    public void OpenAIRequestLine_IsTheBatchInputShape()
    {
        var line = Write(w => OpenAIBatchClient.WriteLine(w, new IdentifiedRequest("row-1", new LlmRequest { Model = "gpt-4o-mini", System = "Be brief.", UserText = "Hello \"world\" é", MaxTokens = 100, Temperature = 0.2 })));

        Assert.Equal(
            """{"custom_id":"row-1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello \u0022world\u0022 \u00E9"}],"max_tokens":100,"temperature":0.2}}""",
            line);
    }

    [Theory]
    [InlineData("gpt-5-mini", "max_completion_tokens")]
    [InlineData("o3-mini", "max_completion_tokens")]
    [InlineData("gpt-4o", "max_tokens")]
    public void OpenAIBody_UsesTheTokenLimitFieldTheModelAccepts(string model, string field)
    {
        var body = Write(w => OpenAIBatchClient.WriteBody(w, new LlmRequest { Model = model, UserText = "x", MaxTokens = 5 }));

        Assert.Contains($"\"{field}\":5", body, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenAISuccessLine_FromTheGuide_IsSucceededWithTextAndUsage()
    {
        const string line = """{"id": "batch_req_123", "custom_id": "request-2", "response": {"status_code": 200, "request_id": "req_123", "body": {"id": "chatcmpl-123", "object": "chat.completion", "created": 1711652795, "model": "gpt-3.5-turbo-0125", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "logprobs": null, "finish_reason": "stop"}], "usage": {"prompt_tokens": 22, "completion_tokens": 2, "total_tokens": 24}, "system_fingerprint": "fp_123"}}, "error": null}""";

        var r = OpenAIBatchClient.ParseOutputLine(line, "output");

        Assert.Equal(ResultKind.Succeeded, r.Kind);
        Assert.Equal("request-2", r.CustomId);
        Assert.Equal("Hello.", r.Text);
        Assert.Equal(new Items.TokenUsage(22, 2, 0), r.Usage);
    }

    [Fact]
    public void OpenAIErrorFileLine_With400Body_IsFailedWithTheProviderCodeAndMessage()
    {
        const string line = """{"id": "batch_req_YTpodqz4ZJ8arId5Bm73lIEt", "custom_id": "request-5", "response": {"status_code": 400, "request_id": "0538a1cc8f8f8500bbe07250e6aa2b26", "body": {"error": {"message": "This model's maximum context length is 128000 tokens. However, you requested 1000024 tokens (24 in the messages, 1000000 in the completion). Please reduce the length of the messages or completion.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}}, "error": null}""";

        var r = OpenAIBatchClient.ParseOutputLine(line, "error");

        Assert.Equal(ResultKind.Failed, r.Kind);
        Assert.Equal("context_length_exceeded", r.ErrorCode);
        Assert.Equal(400, r.StatusCode);
        Assert.StartsWith("This model's maximum context length is 128000 tokens.", r.ErrorMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("batch_expired", ResultKind.Expired)]
    [InlineData("batch_cancelled", ResultKind.Cancelled)]
    [InlineData("request_timeout", ResultKind.Failed)]
    public void OpenAITopLevelError_MapsToItsKind(string code, ResultKind kind)
    {
        var line = $$$"""{"id": "batch_req_123", "custom_id": "request-3", "response": null, "error": {"code": "{{{code}}}", "message": "This request could not be executed before the completion window expired."}}""";

        var r = OpenAIBatchClient.ParseOutputLine(line, "error");

        Assert.Equal(kind, r.Kind);
        Assert.Equal(code, r.ErrorCode);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"id":"x","response":{"status_code":200}}""")]
    [InlineData("[1,2]")]
    public void OpenAIUnreadableLine_IsMalformed(string line) =>
        Assert.Equal(ResultKind.Malformed, OpenAIBatchClient.ParseOutputLine(line, "output").Kind);

    [Fact]
    public void OpenAIResponsesBody_TextComesFromOutputText()
    {
        const string line = """{"id":"batch_req_1","custom_id":"a","response":{"status_code":200,"body":{"object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"Hi "},{"type":"output_text","text":"there"}]}],"usage":{"input_tokens":5,"output_tokens":2,"input_tokens_details":{"cached_tokens":3}}}},"error":null}""";

        var r = OpenAIBatchClient.ParseOutputLine(line, "output");

        Assert.Equal("Hi there", r.Text);
        Assert.Equal(new Items.TokenUsage(5, 2, 3), r.Usage);
    }

    [Fact]
    public void OpenAIBatchObject_Completed_MapsCountsFilesAndMetadata()
    {
        const string json = """{"id":"batch_abc123","object":"batch","endpoint":"/v1/completions","model":"gpt-5-2025-08-07","errors":null,"input_file_id":"file-abc123","completion_window":"24h","status":"completed","output_file_id":"file-cvaTdG","error_file_id":"file-HOWS94","created_at":1711471533,"in_progress_at":1711471538,"expires_at":1711557933,"finalizing_at":1711493133,"completed_at":1711493163,"failed_at":null,"expired_at":null,"cancelling_at":null,"cancelled_at":null,"request_counts":{"total":100,"completed":95,"failed":5},"metadata":{"customer_id":"user_123456789","batch_description":"Nightly eval job"}}""";

        var b = OpenAIBatchClient.Map(JsonDocument.Parse(json).RootElement);

        Assert.Equal(BatchEnd.Completed, b.End);
        Assert.Equal((100, 100, 5), (b.Total, b.Done, b.FailedCount));
        Assert.Equal(("file-cvaTdG", "file-HOWS94"), (b.OutputFileId, b.ErrorFileId));
        Assert.Equal("Nightly eval job", b.Metadata!["batch_description"]);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1711471533), b.CreatedAt);
    }

    [Fact]
    public void OpenAIBatchObject_FailedValidation_KeepsTheErrors()
    {
        const string json = """{"id":"batch_abc123","object":"batch","status":"failed","failed_at":1711471540,"output_file_id":null,"error_file_id":null,"request_counts":{"total":0,"completed":0,"failed":0},"errors":{"object":"list","data":[{"code":"token_limit_exceeded","line":null,"param":null,"message":"Enqueued token limit reached for gpt-4o-mini in organization org-xxx. Limit: 2,000,000 enqueued tokens. Please try again once some in_progress batches have been completed."}]}}""";

        var b = OpenAIBatchClient.Map(JsonDocument.Parse(json).RootElement);

        Assert.Equal(BatchEnd.Failed, b.End);
        Assert.Equal("token_limit_exceeded", Assert.Single(b.Errors).Code);
    }

    [Fact]
    public void AnthropicResults_FromTheDocs_MapEachType()
    {
        string[] lines =
        [
            """{"custom_id":"my-second-request","result":{"type":"succeeded","message":{"id":"msg_014VwiXbi91y3JMjcpyGBHX5","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"Hello again!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":36,"service_tier":"batch"}}}}""",
            """{"custom_id":"bad-one","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":null}}}""",
            """{"custom_id":"late-one","result":{"type":"expired"}}""",
            """{"custom_id":"stopped-one","result":{"type":"canceled"}}""",
        ];

        var r = lines.Select(l => AnthropicBatchClient.ParseResultLine(l, "results")).ToList();

        Assert.Equal([ResultKind.Succeeded, ResultKind.Failed, ResultKind.Expired, ResultKind.Cancelled], r.Select(x => x.Kind));
        Assert.Equal("Hello again!", r[0].Text);
        Assert.Equal(new Items.TokenUsage(11, 36, 0), r[0].Usage);
        Assert.Equal(("invalid_request_error", "max_tokens: Field required"), (r[1].ErrorCode, r[1].ErrorMessage));
    }

    [Fact]
    public void AnthropicBatchObject_Ended_IsCompletedWithCounts()
    {
        const string json = """{"id":"msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d","type":"message_batch","processing_status":"ended","request_counts":{"processing":0,"succeeded":95,"errored":3,"canceled":0,"expired":2},"ended_at":"2024-09-24T19:02:11.532101Z","created_at":"2024-09-24T18:37:24.100435Z","expires_at":"2024-09-25T18:37:24.100435Z","archived_at":null,"cancel_initiated_at":null,"results_url":"https://api.anthropic.com/v1/messages/batches/msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d/results"}""";

        var b = AnthropicBatchClient.Map(JsonDocument.Parse(json).RootElement);

        Assert.Equal(BatchEnd.Completed, b.End);
        Assert.Equal((100, 100, 5), (b.Total, b.Done, b.FailedCount));
        Assert.Equal(new DateTimeOffset(2024, 9, 24, 18, 37, 24, 100, TimeSpan.Zero).AddTicks(4350), b.CreatedAt);
        Assert.EndsWith("/results", b.ResultsUrl, StringComparison.Ordinal);
    }

    [Fact]
    public void AnthropicParams_AlwaysCarryMaxTokens()
    {
        var body = Write(w => AnthropicBatchClient.WriteParams(w, new LlmRequest { Model = "claude-haiku-4-5", System = "S", UserText = "U" }));

        Assert.Equal("""{"model":"claude-haiku-4-5","max_tokens":1024,"system":"S","messages":[{"role":"user","content":"U"}]}""", body);
    }
}
