using BatchPilot.Errors;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Storage;

namespace BatchPilot.Exports.Tests;

/// <summary>The provider-format output of raw (submit-file) jobs: the provider's lines verbatim, in input order.</summary>
public sealed class ProviderFileExporterTests
{
    private const string OpenAIOk = """{"id": "batch_req_123", "custom_id": "r-1", "response": {"status_code": 200, "request_id": "req_123", "body": {"id": "chatcmpl-123", "object": "chat.completion", "created": 1711652795, "model": "gpt-3.5-turbo-0125", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Bonjour, ça va ? 你好"}, "logprobs": null, "finish_reason": "stop"}], "usage": {"prompt_tokens": 22, "completion_tokens": 2, "total_tokens": 24}, "system_fingerprint": "fp_123"}}, "error": null}""";
    private const string OpenAIFailed = """{"id": "batch_req_YTpodqz4ZJ8arId5Bm73lIEt", "custom_id": "r-2", "response": {"status_code": 400, "request_id": "0538a1cc8f8f8500bbe07250e6aa2b26", "body": {"error": {"message": "This model's maximum context length is 128000 tokens.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}}, "error": null}""";
    private const string AnthropicOk = """{"custom_id":"a-2","result":{"type":"succeeded","message":{"id":"msg_014VwiXbi91y3JMjcpyGBHX5","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"Hello again!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":36,"service_tier":"batch"}}}}""";

    private static async Task<JobRecord> RawJobAsync(ExportJobs jobs, string provider, params string[] customIds)
    {
        var spec = new JobSpec
        {
            Kind = JobKind.Raw,
            RawUrl = provider == ProviderNames.OpenAI ? "/v1/chat/completions" : null,
            InputPath = "batch.jsonl",
            InputSha256 = "ab",
            Provider = provider,
            Model = "m",
            Prompt = string.Empty,
            IdColumn = "custom_id",
            Endpoint = "emulator",
        };
        var job = new JobRecord
        {
            Id = "job-raw" + provider[0],
            Name = "batch",
            Spec = spec,
            Fingerprint = spec.Fingerprint(),
            Status = JobStatus.Preparing,
            Columns = JobSpec.RawColumns,
            CreatedAt = jobs.Time.GetUtcNow(),
            UpdatedAt = jobs.Time.GetUtcNow(),
        };
        await jobs.Store.CreateJobAsync(job);
        await jobs.Store.AppendItemsAsync(job.Id, customIds.Select((id, i) => new NewItem(i + 1, id, i + 1, [id, "{}"])).ToList());
        Assert.True(await jobs.Store.TrySetJobStatusAsync(job.Id, [JobStatus.Preparing], JobStatus.Pending, "read", customIds.Length));
        return (await jobs.Store.GetJobAsync(job.Id))!;
    }

    private static ResultLine Line(string customId, ResultKind kind, string? raw, string? code = null, string? message = null) =>
        new() { CustomId = customId, Kind = kind, Raw = raw, ErrorCode = code, ErrorMessage = message };

    [Fact]
    public async Task Export_OpenAIRawJob_WritesTheProvidersLinesVerbatim_InInputOrder_AndTheErrorShapeForTheRest()
    {
        // Given four requests: r-1 and r-2 answered (lines applied in the reverse order), r-3 expired, r-4 cancelled without a line
        using var jobs = new ExportJobs();
        var job = await RawJobAsync(jobs, ProviderNames.OpenAI, "r-1", "r-2", "r-3", "r-4");
        var a = await jobs.SubmitAsync(job.Id, [1, 2, 3], "batch_a");
        await jobs.Store.ApplyResultsAsync(a, [Line("r-2", ResultKind.Failed, OpenAIFailed, "context_length_exceeded", "too long"), Line("r-1", ResultKind.Succeeded, OpenAIOk)]);
        await jobs.Store.EndRemainingAsync(a, ItemStatus.Expired, "batch_expired", "This request could not be executed before the completion window expired.");
        await jobs.Store.CancelPendingItemsAsync(job.Id);

        // When the job is exported in the provider's format
        var path = jobs.Ws.PathOf("out.jsonl");
        var rows = await JobExporter.ExportAsync(jobs.Store, job, ExportFormat.Provider, path);

        // Then there is one line per request, in input order: the provider's own, or the line it writes for that case
        Assert.Equal(4, rows);
        Assert.Equal(
            [
                OpenAIOk,
                OpenAIFailed,
                """{"id":null,"custom_id":"r-3","response":null,"error":{"code":"batch_expired","message":"This request could not be executed before the completion window expired."}}""",
                """{"id":null,"custom_id":"r-4","response":null,"error":{"code":"batch_cancelled","message":"The job was cancelled before this item was sent."}}""",
            ],
            await File.ReadAllLinesAsync(path));
        Assert.EndsWith("\n", await File.ReadAllTextAsync(path), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_AnthropicRawJob_WritesResultsLines_WithErroredExpiredAndCanceledShapes()
    {
        using var jobs = new ExportJobs();
        var job = await RawJobAsync(jobs, ProviderNames.Anthropic, "a-1", "a-2", "a-3", "a-4", "a-é");
        var a = await jobs.SubmitAsync(job.Id, [1, 2], "msgbatch_a");
        await jobs.Store.ApplyResultsAsync(a, [Line("a-2", ResultKind.Succeeded, AnthropicOk)]);
        await jobs.Store.EndRemainingAsync(a, ItemStatus.Failed, "missing_result", "The provider returned no result for this request.");
        var b = await jobs.SubmitAsync(job.Id, [3, 4, 5], "msgbatch_b");
        await jobs.Store.ApplyResultsAsync(b, [Line("a-3", ResultKind.Failed, null, "overloaded_error", "Overloaded")]);
        await jobs.Store.ApplyResultsAsync(b, [Line("a-4", ResultKind.Expired, null, "expired", "The batch expired before this request ran.")]);
        await jobs.Store.EndRemainingAsync(b, ItemStatus.Cancelled, "canceled", "The batch was cancelled before this request ran.");

        var path = jobs.Ws.PathOf("out.jsonl");
        await JobExporter.ExportAsync(jobs.Store, job, ExportFormat.Provider, path);

        Assert.Equal(
            [
                """{"custom_id":"a-1","result":{"type":"errored","error":{"type":"error","error":{"type":"api_error","message":"missing_result: The provider returned no result for this request."},"request_id":null}}}""",
                AnthropicOk,
                """{"custom_id":"a-3","result":{"type":"errored","error":{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":null}}}""",
                """{"custom_id":"a-4","result":{"type":"expired"}}""",
                """{"custom_id":"a-é","result":{"type":"canceled"}}""",
            ],
            await File.ReadAllLinesAsync(path));
    }

    [Fact]
    public async Task Export_ProviderFormat_OfATableJob_IsRefused_AndWritesNothing()
    {
        using var jobs = new ExportJobs();
        var job = await jobs.SampleAsync();
        var path = jobs.Ws.PathOf("out.jsonl");

        var ex = await Assert.ThrowsAsync<InputException>(() => JobExporter.ExportAsync(jobs.Store, job, ExportFormat.Provider, path));

        Assert.Equal("'--format': job job-5e7c1a was made from a table, and only jobs of 'batchpilot submit-file' keep the provider's lines. Use --format jsonl for one JSON object per item.", ex.ToUserLine());
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Export_ProviderFormat_WhileItemsHaveNoResult_IsRefusedAsPending()
    {
        using var jobs = new ExportJobs();
        var job = await RawJobAsync(jobs, ProviderNames.OpenAI, "r-1", "r-2");
        var a = await jobs.SubmitAsync(job.Id, [1], "batch_a");
        await jobs.Store.ApplyResultsAsync(a, [Line("r-1", ResultKind.Succeeded, OpenAIOk)]);
        var path = jobs.Ws.PathOf("out.jsonl");

        var ex = await Assert.ThrowsAsync<InputException>(() => JobExporter.ExportAsync(jobs.Store, job, ExportFormat.Provider, path));

        Assert.Equal(ExitCodes.Pending, ex.ExitCode);
        Assert.Equal("'JOB': 1 item(s) of job job-rawo have no result yet. Wait for the job ('batchpilot watch job-rawo'), then export again.", ex.ToUserLine());
        Assert.False(File.Exists(path));
        Assert.True(JobExporter.TryParseFormat("Provider", out var format) && format == ExportFormat.Provider);
    }
}
