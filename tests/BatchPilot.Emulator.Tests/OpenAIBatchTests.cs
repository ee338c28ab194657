using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace BatchPilot.Emulator.Tests;

public sealed class OpenAIBatchTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Batch_StatusFollowsTheClock_ValidatingInProgressFinalizingCompleted()
    {
        var clock = new FakeTimeProvider(Start);
        await using var server = await TestKit.StartAsync(o => { o.TimeProvider = clock; o.BatchDuration = TimeSpan.FromSeconds(100); });
        using var http = TestKit.OpenAIHttp(server);
        var fileId = await TestKit.UploadAsync(http, TestKit.ChatJsonl(10));
        var created = await TestKit.CreateOpenAIBatchAsync(http, fileId, new { job = "j1" });
        var id = created.GetProperty("id").GetString()!;

        Assert.Equal("validating", created.GetProperty("status").GetString());
        Assert.Equal(0, created.GetProperty("request_counts").GetProperty("total").GetInt32());
        Assert.Equal(Start.ToUnixTimeSeconds(), created.GetProperty("created_at").GetInt64());
        Assert.Equal(Start.ToUnixTimeSeconds() + 86400, created.GetProperty("expires_at").GetInt64());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("in_progress_at").ValueKind);
        Assert.Equal("j1", created.GetProperty("metadata").GetProperty("job").GetString());

        clock.Advance(TimeSpan.FromSeconds(45)); // 10 s validating, then 70 s in progress: 35/70 done
        var mid = (await TestKit.GetJsonAsync(http, $"v1/batches/{id}")).Json;
        Assert.Equal("in_progress", mid.GetProperty("status").GetString());
        Assert.Equal(Start.ToUnixTimeSeconds() + 10, mid.GetProperty("in_progress_at").GetInt64());
        Assert.Equal(10, mid.GetProperty("request_counts").GetProperty("total").GetInt32());
        Assert.Equal(5, mid.GetProperty("request_counts").GetProperty("completed").GetInt32());

        clock.Advance(TimeSpan.FromSeconds(40));
        var finalizing = (await TestKit.GetJsonAsync(http, $"v1/batches/{id}")).Json;
        Assert.Equal("finalizing", finalizing.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, finalizing.GetProperty("output_file_id").ValueKind);

        clock.Advance(TimeSpan.FromSeconds(20));
        var done = (await TestKit.GetJsonAsync(http, $"v1/batches/{id}")).Json;
        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.Equal(Start.ToUnixTimeSeconds() + 100, done.GetProperty("completed_at").GetInt64());
        Assert.Equal(Start.ToUnixTimeSeconds() + 80, done.GetProperty("finalizing_at").GetInt64());
        Assert.Equal(10, done.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.StartsWith("file-", done.GetProperty("output_file_id").GetString());
        Assert.Equal(JsonValueKind.Null, done.GetProperty("error_file_id").ValueKind);
        Assert.True(done.GetProperty("usage").GetProperty("input_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task Batch_WithZeroDuration_IsCompletedWhenReadBack()
    {
        await using var server = await TestKit.StartAsync(o => o.BatchDuration = TimeSpan.Zero);
        using var http = TestKit.OpenAIHttp(server);
        var fileId = await TestKit.UploadAsync(http, TestKit.ChatJsonl(3));
        var created = await TestKit.CreateOpenAIBatchAsync(http, fileId);
        Assert.Equal("validating", created.GetProperty("status").GetString());

        var read = (await TestKit.GetJsonAsync(http, $"v1/batches/{created.GetProperty("id").GetString()}")).Json;

        Assert.Equal("completed", read.GetProperty("status").GetString());
        Assert.Equal(3, read.GetProperty("request_counts").GetProperty("completed").GetInt32());
    }

    [Fact]
    public async Task OutputLines_HaveTheBatchRequestOutputShape()
    {
        await using var server = await TestKit.StartAsync(o => o.BatchDuration = TimeSpan.Zero);
        using var http = TestKit.OpenAIHttp(server);
        var line = JsonSerializer.Serialize(new
        {
            custom_id = "parts",
            method = "POST",
            url = "/v1/chat/completions",
            body = new { model = "gpt-4o", messages = new object[] { new { role = "user", content = new object[] { new { type = "text", text = "Describe" }, new { type = "image_url", image_url = new { url = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==" } } } } } },
        });
        var batch = await TestKit.CreateOpenAIBatchAsync(http, await TestKit.UploadAsync(http, line + "\n"));
        var done = (await TestKit.GetJsonAsync(http, $"v1/batches/{batch.GetProperty("id").GetString()}")).Json;

        var output = await http.GetStringAsync($"v1/files/{done.GetProperty("output_file_id").GetString()}/content");
        var result = Assert.Single(TestKit.ParseJsonl(output));

        Assert.Matches("^batch_req_[0-9A-Za-z]{24}$", result.GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("error").ValueKind);
        var response = result.GetProperty("response");
        Assert.Equal(200, response.GetProperty("status_code").GetInt32());
        Assert.Matches("^[0-9a-f]{32}$", response.GetProperty("request_id").GetString());
        var body = response.GetProperty("body");
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("gpt-4o", body.GetProperty("model").GetString());
        Assert.Equal("Emulated answer to: Describe [1 image: image/png, 70 bytes]", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task State_SurvivesRestart_WithTheSameDataDirectory()
    {
        var dir = TestKit.TempDir();
        var clock = new FakeTimeProvider(Start);
        string batchId, fileId;
        await using (var first = await TestKit.StartAsync(o => { o.DataDirectory = dir; o.TimeProvider = clock; o.BatchDuration = TimeSpan.FromSeconds(60); }))
        {
            using var http = TestKit.OpenAIHttp(first);
            fileId = await TestKit.UploadAsync(http, TestKit.ChatJsonl(4));
            batchId = (await TestKit.CreateOpenAIBatchAsync(http, fileId)).GetProperty("id").GetString()!;
        }

        clock.Advance(TimeSpan.FromSeconds(61));
        await using var second = await TestKit.StartAsync(o => { o.DataDirectory = dir; o.TimeProvider = clock; o.BatchDuration = TimeSpan.FromSeconds(60); });
        using var http2 = TestKit.OpenAIHttp(second);
        var batch = (await TestKit.GetJsonAsync(http2, $"v1/batches/{batchId}")).Json;

        Assert.Equal("completed", batch.GetProperty("status").GetString());
        Assert.Equal(4, batch.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(200, (await TestKit.GetJsonAsync(http2, $"v1/files/{fileId}")).Status);
        var listed = Assert.Single(second.ListBatches());
        Assert.Equal(["req-1", "req-2", "req-3", "req-4"], listed.CustomIds);
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task List_IsNewestFirst_WithCursorPagination()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        var fileId = await TestKit.UploadAsync(http, TestKit.ChatJsonl(1));
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await TestKit.CreateOpenAIBatchAsync(http, fileId)).GetProperty("id").GetString()!);
        }
        ids.Reverse();

        var page1 = (await TestKit.GetJsonAsync(http, "v1/batches?limit=2")).Json;
        var page2 = (await TestKit.GetJsonAsync(http, $"v1/batches?limit=2&after={page1.GetProperty("last_id").GetString()}")).Json;
        var page3 = (await TestKit.GetJsonAsync(http, $"v1/batches?limit=2&after={page2.GetProperty("last_id").GetString()}")).Json;

        Assert.Equal("list", page1.GetProperty("object").GetString());
        Assert.Equal(ids[..2], page1.GetProperty("data").EnumerateArray().Select(b => b.GetProperty("id").GetString()));
        Assert.True(page1.GetProperty("has_more").GetBoolean());
        Assert.Equal(ids[0], page1.GetProperty("first_id").GetString());
        Assert.Equal(ids[2..4], page2.GetProperty("data").EnumerateArray().Select(b => b.GetProperty("id").GetString()));
        Assert.Equal([ids[4]], page3.GetProperty("data").EnumerateArray().Select(b => b.GetProperty("id").GetString()));
        Assert.False(page3.GetProperty("has_more").GetBoolean());
        Assert.Equal(400, (await TestKit.GetJsonAsync(http, "v1/batches?limit=101")).Status);
    }

    [Fact]
    public async Task Create_RejectsBadRequests_WithOpenAIErrorEnvelope()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        var fileId = await TestKit.UploadAsync(http, TestKit.ChatJsonl(1));

        var missing = await TestKit.PostJsonAsync(http, "v1/batches", new { input_file_id = "file-nope", endpoint = "/v1/chat/completions", completion_window = "24h" });
        var window = await TestKit.PostJsonAsync(http, "v1/batches", new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "48h" });
        var metadata = await TestKit.PostJsonAsync(http, "v1/batches", new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h", metadata = Enumerable.Range(0, 17).ToDictionary(i => $"k{i}", i => "v") });
        var unknownBatch = await TestKit.GetJsonAsync(http, "v1/batches/batch_00000000000000000000000000000000");

        Assert.Equal(404, missing.Status);
        Assert.Equal("No such File object: file-nope", missing.Json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(400, window.Status);
        Assert.Equal("invalid_request_error", window.Json.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("completion_window", window.Json.GetProperty("error").GetProperty("param").GetString());
        Assert.Equal(400, metadata.Status);
        Assert.Equal("object_above_max_properties", metadata.Json.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(404, unknownBatch.Status);
        Assert.Equal(JsonValueKind.Null, unknownBatch.Json.GetProperty("error").GetProperty("code").ValueKind);
    }

    [Fact]
    public async Task Upload_NonJsonlForBatch_IsRejectedWithTheRealMessage()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes("a,b\n")), "file", "input.csv" },
        };

        using var response = await http.PostAsync("v1/files", form);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("""{"error":{"message":"Invalid file format for Batch API. Must be .jsonl","type":"invalid_request_error","param":null,"code":null}}""", body);
        Assert.Empty((await TestKit.GetJsonAsync(http, "v1/files")).Json.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task InvalidInputLines_FailTheBatchWithLineNumbers()
    {
        await using var server = await TestKit.StartAsync(o => o.BatchDuration = TimeSpan.Zero);
        using var http = TestKit.OpenAIHttp(server);
        var content = TestKit.ChatLine("a", "x") + "\n{not json\n" + TestKit.ChatLine("a", "dup") + "\n";
        var batch = await TestKit.CreateOpenAIBatchAsync(http, await TestKit.UploadAsync(http, content));

        var failed = (await TestKit.GetJsonAsync(http, $"v1/batches/{batch.GetProperty("id").GetString()}")).Json;

        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.NotEqual(JsonValueKind.Null, failed.GetProperty("failed_at").ValueKind);
        var errors = failed.GetProperty("errors").GetProperty("data").EnumerateArray().ToList();
        Assert.Equal("invalid_json_line", errors[0].GetProperty("code").GetString());
        Assert.Equal(2, errors[0].GetProperty("line").GetInt32());
        Assert.Equal("duplicate_custom_id", errors[1].GetProperty("code").GetString());
        Assert.Equal(3, errors[1].GetProperty("line").GetInt32());
        Assert.Equal(JsonValueKind.Null, failed.GetProperty("output_file_id").ValueKind);
    }

    [Fact]
    public async Task Cancel_InProgress_GivesPartialOutputAndCancelledErrorLines()
    {
        var clock = new FakeTimeProvider(Start);
        await using var server = await TestKit.StartAsync(o => { o.TimeProvider = clock; o.BatchDuration = TimeSpan.FromSeconds(100); });
        using var http = TestKit.OpenAIHttp(server);
        var batch = await TestKit.CreateOpenAIBatchAsync(http, await TestKit.UploadAsync(http, TestKit.ChatJsonl(10)));
        var id = batch.GetProperty("id").GetString()!;
        clock.Advance(TimeSpan.FromSeconds(45)); // half of the requests are done

        var cancelling = (await TestKit.PostJsonAsync(http, $"v1/batches/{id}/cancel", new { })).Json;
        Assert.Equal("cancelling", cancelling.GetProperty("status").GetString());
        Assert.Equal(Start.ToUnixTimeSeconds() + 45, cancelling.GetProperty("cancelling_at").GetInt64());

        clock.Advance(TimeSpan.FromSeconds(2));
        var cancelled = (await TestKit.GetJsonAsync(http, $"v1/batches/{id}")).Json;
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal(5, cancelled.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(5, cancelled.GetProperty("request_counts").GetProperty("failed").GetInt32());
        var errors = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{cancelled.GetProperty("error_file_id").GetString()}/content"));
        Assert.Equal(5, errors.Count);
        Assert.All(errors, e => Assert.Equal("batch_cancelled", e.GetProperty("error").GetProperty("code").GetString()));
        Assert.All(errors, e => Assert.Equal(JsonValueKind.Null, e.GetProperty("response").ValueKind));
        var outputs = TestKit.ParseJsonl(await http.GetStringAsync($"v1/files/{cancelled.GetProperty("output_file_id").GetString()}/content"));
        Assert.Equal(["req-1", "req-2", "req-3", "req-4", "req-5"], outputs.Select(o => o.GetProperty("custom_id").GetString()));

        var again = await TestKit.PostJsonAsync(http, $"v1/batches/{id}/cancel", new { });
        Assert.Equal(400, again.Status);
    }

    [Fact]
    public async Task FilesApi_ListRetrieveDelete()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        var a = await TestKit.UploadAsync(http, TestKit.ChatJsonl(1), "a.jsonl");
        var b = await TestKit.UploadAsync(http, "{}", "b.json", "user_data");

        var batchFiles = (await TestKit.GetJsonAsync(http, "v1/files?purpose=batch")).Json;
        var file = (await TestKit.GetJsonAsync(http, $"v1/files/{a}")).Json;
        using var deleted = await http.DeleteAsync($"v1/files/{b}");
        var afterDelete = await TestKit.GetJsonAsync(http, $"v1/files/{b}");

        Assert.Equal([a], batchFiles.GetProperty("data").EnumerateArray().Select(f => f.GetProperty("id").GetString()));
        Assert.Equal("a.jsonl", file.GetProperty("filename").GetString());
        Assert.Equal("processed", file.GetProperty("status").GetString());
        Assert.Equal(Encoding.UTF8.GetByteCount(TestKit.ChatJsonl(1)), file.GetProperty("bytes").GetInt64());
        Assert.True((await TestKit.ReadJsonAsync(deleted)).GetProperty("deleted").GetBoolean());
        Assert.Equal(404, afterDelete.Status);
        Assert.Equal("id", afterDelete.Json.GetProperty("error").GetProperty("param").GetString());
    }
}
