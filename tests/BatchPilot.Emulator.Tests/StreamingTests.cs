using System.Net;
using System.Text;
using System.Text.Json;

namespace BatchPilot.Emulator.Tests;

/// <summary><c>stream: true</c> on the synchronous endpoints: server-sent events as the providers send them.</summary>
public sealed class StreamingTests
{
    private sealed record Sse(string? Name, string Data)
    {
        public JsonElement Json => JsonDocument.Parse(Data).RootElement.Clone();
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>Posts and parses the whole event stream (the response must be a 200 <c>text/event-stream</c>).</summary>
    private static async Task<(HttpResponseMessage Response, List<Sse> Events, string Raw)> StreamAsync(HttpClient http, string path, string body)
    {
        var response = await http.PostAsync(path, Json(body));
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, raw);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return (response, Parse(raw), raw);
    }

    private static List<Sse> Parse(string raw)
    {
        Assert.EndsWith("\n\n", raw);
        var events = new List<Sse>();
        foreach (var block in raw.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null;
            string? data = null;
            foreach (var line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    Assert.Null(data);
                    data = line[6..];
                }
                else
                {
                    Assert.Fail($"unexpected line '{line}'");
                }
            }
            Assert.NotNull(data);
            events.Add(new Sse(name, data));
        }
        return events;
    }

    [Fact]
    public async Task ChatCompletions_Stream_SendsRoleContentAndFinishChunksThenDone_TextEqualsTheAnswer()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        const string Body = """{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Tell me about the rings of Saturn, please."}]}""";
        var (plainStatus, plain) = await TestKit.PostJsonAsync(http, "v1/chat/completions", JsonDocument.Parse(Body).RootElement);
        Assert.Equal(200, plainStatus);

        var (response, events, _) = await StreamAsync(http, "v1/chat/completions", Body.Replace("\"messages\"", "\"stream\":true,\"messages\"", StringComparison.Ordinal));
        using var _r = response;

        Assert.Equal("[DONE]", events[^1].Data);
        Assert.All(events, e => Assert.Null(e.Name));
        var chunks = events[..^1].Select(e => e.Json).ToList();
        Assert.True(chunks.Count >= 5, $"{chunks.Count} chunks");
        Assert.Single(chunks.Select(c => (c.GetProperty("id").GetString(), c.GetProperty("created").GetInt64(), c.GetProperty("model").GetString())).Distinct());
        Assert.StartsWith("chatcmpl-", chunks[0].GetProperty("id").GetString());
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _)));
        var first = chunks[0].GetProperty("choices")[0];
        Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("", first.GetProperty("delta").GetProperty("content").GetString());
        var last = chunks[^1].GetProperty("choices")[0];
        Assert.Equal("stop", last.GetProperty("finish_reason").GetString());
        Assert.Empty(last.GetProperty("delta").EnumerateObject());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
        var text = string.Concat(chunks[1..^1].Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        Assert.Equal(plain.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), text);
        Assert.Equal(2, server.Counters["POST /v1/chat/completions"]);
    }

    [Fact]
    public async Task ChatCompletions_StreamWithIncludeUsage_EndsWithAUsageChunkWithoutChoices()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        const string Plain = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Count the tokens of this, please."}]}""";
        var (_, plain) = await TestKit.PostJsonAsync(http, "v1/chat/completions", JsonDocument.Parse(Plain).RootElement);

        var (response, events, _) = await StreamAsync(http, "v1/chat/completions",
            """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Count the tokens of this, please."}]}""");
        using var _r = response;

        var chunks = events[..^1].Select(e => e.Json).ToList();
        var usageChunk = chunks[^1];
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.Equal(plain.GetProperty("usage").ToString(), usageChunk.GetProperty("usage").ToString());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Equal("stop", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Messages_Stream_SendsTheAnthropicEventSequence_TextAndUsageEqualTheAnswer()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.AnthropicHttp(server);
        const string Body = """{"model":"claude-haiku-4-5","max_tokens":200,"messages":[{"role":"user","content":"Schreib mir etwas über Ärger und Öl 🙂 bitte."}]}""";
        var (_, plain) = await TestKit.PostJsonAsync(http, "v1/messages", JsonDocument.Parse(Body).RootElement);

        var (response, events, raw) = await StreamAsync(http, "v1/messages", Body.Replace("\"messages\"", "\"stream\":true,\"messages\"", StringComparison.Ordinal));
        using var _r = response;

        Assert.Contains("event: message_start\ndata: {\"type\":\"message_start\",", raw);
        Assert.True(response.Headers.Contains("request-id"));
        var names = events.Select(e => e.Name).ToList();
        Assert.Equal(["message_start", "content_block_start", "ping"], names[..3]);
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], names[^3..]);
        Assert.All(names[3..^3], n => Assert.Equal("content_block_delta", n));
        Assert.True(names.Count - 6 >= 2, $"{names.Count - 6} deltas");
        Assert.All(events, e => Assert.Equal(e.Name, e.Json.GetProperty("type").GetString()));

        var start = events[0].Json.GetProperty("message");
        Assert.Equal(plain.GetProperty("id").GetString()![..6], start.GetProperty("id").GetString()![..6]);
        Assert.Equal(0, start.GetProperty("content").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, start.GetProperty("stop_reason").ValueKind);
        Assert.Equal(plain.GetProperty("usage").GetProperty("input_tokens").GetInt32(), start.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        var block = events[1].Json;
        Assert.Equal(0, block.GetProperty("index").GetInt32());
        Assert.Equal("text", block.GetProperty("content_block").GetProperty("type").GetString());
        Assert.Equal("", block.GetProperty("content_block").GetProperty("text").GetString());
        var deltas = events[3..^3].Select(e => e.Json.GetProperty("delta")).ToList();
        Assert.All(deltas, d => Assert.Equal("text_delta", d.GetProperty("type").GetString()));
        Assert.Equal(plain.GetProperty("content")[0].GetProperty("text").GetString(), string.Concat(deltas.Select(d => d.GetProperty("text").GetString())));
        var messageDelta = events[^2].Json;
        Assert.Equal("end_turn", messageDelta.GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.Equal(plain.GetProperty("usage").GetProperty("output_tokens").GetInt32(), messageDelta.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task Messages_StreamOfAForcedTool_SendsTheInputAsJsonDeltas()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.AnthropicHttp(server);
        const string Body = """{"model":"claude-haiku-4-5","max_tokens":200,"messages":[{"role":"user","content":"Classify this fruit: banana"}],"tools":[{"name":"answer","input_schema":{"type":"object","properties":{"name":{"type":"string"},"sweet":{"type":"boolean"},"count":{"type":"integer"}},"required":["name","sweet","count"]}}],"tool_choice":{"type":"tool","name":"answer"}}""";
        var (_, plain) = await TestKit.PostJsonAsync(http, "v1/messages", JsonDocument.Parse(Body).RootElement);

        var (response, events, _) = await StreamAsync(http, "v1/messages", Body.Replace("\"messages\"", "\"stream\":true,\"messages\"", StringComparison.Ordinal));
        using var _r = response;

        var block = events[1].Json.GetProperty("content_block");
        Assert.Equal("tool_use", block.GetProperty("type").GetString());
        Assert.Equal("answer", block.GetProperty("name").GetString());
        Assert.StartsWith("toolu_01", block.GetProperty("id").GetString());
        Assert.Empty(block.GetProperty("input").EnumerateObject());
        var deltas = events.Where(e => e.Name == "content_block_delta").Select(e => e.Json.GetProperty("delta")).ToList();
        Assert.All(deltas, d => Assert.Equal("input_json_delta", d.GetProperty("type").GetString()));
        Assert.Equal("", deltas[0].GetProperty("partial_json").GetString());
        var input = string.Concat(deltas.Select(d => d.GetProperty("partial_json").GetString()));
        Assert.Equal(plain.GetProperty("content")[0].GetProperty("input").GetRawText(), input);
        Assert.Equal("tool_use", events[^2].Json.GetProperty("delta").GetProperty("stop_reason").GetString());
    }

    [Fact]
    public async Task Responses_Stream_SendsNumberedEventsFromCreatedToCompleted()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        var (_, plain) = await TestKit.PostJsonAsync(http, "v1/responses", new { model = "gpt-4.1-mini", input = "Name three colours, and a fourth one." });

        var (response, events, _) = await StreamAsync(http, "v1/responses", """{"model":"gpt-4.1-mini","input":"Name three colours, and a fourth one.","stream":true}""");
        using var _r = response;

        var names = events.Select(e => e.Name).ToList();
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], names[..4]);
        Assert.Equal(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"], names[^4..]);
        Assert.All(names[4..^4], n => Assert.Equal("response.output_text.delta", n));
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.Json.GetProperty("sequence_number").GetInt32()));
        Assert.All(events, e => Assert.Equal(e.Name, e.Json.GetProperty("type").GetString()));
        var created = events[0].Json.GetProperty("response");
        Assert.Equal("in_progress", created.GetProperty("status").GetString());
        Assert.Equal(0, created.GetProperty("output").GetArrayLength());
        var expected = plain.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString();
        Assert.Equal(expected, string.Concat(events[4..^4].Select(e => e.Json.GetProperty("delta").GetString())));
        Assert.Equal(expected, events[^4].Json.GetProperty("text").GetString());
        var completed = events[^1].Json.GetProperty("response");
        Assert.Equal("completed", completed.GetProperty("status").GetString());
        Assert.Equal(plain.GetProperty("usage").ToString(), completed.GetProperty("usage").ToString());
        Assert.Equal(created.GetProperty("id").GetString(), completed.GetProperty("id").GetString());
    }

    [Fact]
    public async Task AzureAndOpenRouterChat_Stream_LikeOpenAI_WithTheDeploymentAsModel()
    {
        await using var server = await TestKit.StartAsync();
        using var http = TestKit.OpenAIHttp(server);
        http.DefaultRequestHeaders.Add("api-key", "0123456789abcdef0123456789abcdef");

        var (azure, azureEvents, _) = await StreamAsync(http, "openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21", """{"stream":true,"messages":[{"role":"user","content":"Hello Azure"}]}""");
        using var _a = azure;
        var (router, routerEvents, _) = await StreamAsync(http, "api/v1/chat/completions", """{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello router"}]}""");
        using var _r = router;

        static string Text(List<Sse> events) => string.Concat(events[1..^2].Select(e => e.Json.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        Assert.Equal("my-gpt4o", azureEvents[0].Json.GetProperty("model").GetString());
        Assert.Equal("Emulated answer to: Hello Azure", Text(azureEvents));
        Assert.Equal("openai/gpt-4o-mini", routerEvents[0].Json.GetProperty("model").GetString());
        Assert.Equal("Emulated answer to: Hello router", Text(routerEvents));
        Assert.Equal("[DONE]", routerEvents[^1].Data);
    }

    [Theory]
    [InlineData("openai", "v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}""")]
    [InlineData("anthropic", "v1/messages", """{"model":"claude-haiku-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"Hi"}]}""")]
    public async Task Stream_UnderARateLimitFault_Is429BeforeAnyEvent(string provider, string path, string body)
    {
        await using var server = await TestKit.StartAsync(o => o.Faults = FaultScenario.ParseFlags([$"http:POST /{path}:status=429:nth=1"]));
        using var http = provider == "openai" ? TestKit.OpenAIHttp(server) : TestKit.AnthropicHttp(server);

        using var faulted = await http.PostAsync(path, Json(body));
        var (response, events, _) = await StreamAsync(http, path, body);
        using var _r = response;

        Assert.Equal(HttpStatusCode.TooManyRequests, faulted.StatusCode);
        Assert.Equal("application/json", faulted.Content.Headers.ContentType?.MediaType);
        Assert.True(faulted.Headers.Contains("retry-after"));
        Assert.True(events.Count > 5);
    }

    [Fact]
    public async Task Stream_WithAMidBodyResetFault_BreaksOffAfterTheFirstEvents()
    {
        await using var server = await TestKit.StartAsync(o => o.Faults = FaultScenario.ParseFlags(["http:POST /v1/chat/completions:status=reset:midBody=true:nth=1"]));
        using var http = TestKit.OpenAIHttp(server);
        const string Body = """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"A question long enough to be cut into pieces"}]}""";

        var received = new StringBuilder();
        var broke = false;
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json(Body) })
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            try
            {
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                while (await reader.ReadLineAsync() is { } line)
                {
                    received.Append(line).Append('\n');
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                broke = true;
            }
        }
        var (again, events, _) = await StreamAsync(http, "v1/chat/completions", Body);
        using var _a = again;

        Assert.True(broke, "the stream ended without an error: " + received);
        Assert.Contains("\"role\":\"assistant\"", received.ToString());
        Assert.DoesNotContain("[DONE]", received.ToString());
        Assert.Equal("[DONE]", events[^1].Data);
    }

    [Fact]
    public async Task Messages_WithAMidBodyResetFaultAndNoStream_SendsHalfTheJsonThenCuts()
    {
        await using var server = await TestKit.StartAsync(o => o.Faults = FaultScenario.ParseFlags(["http:POST /v1/messages:status=reset:midBody=true:nth=1"]));
        using var http = TestKit.AnthropicHttp(server);
        const string Body = """{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"Hi there"}]}""";

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = Json(Body) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var error = await Record.ExceptionAsync(() => response.Content.ReadAsStringAsync());
        var (status, _) = await TestKit.PostJsonAsync(http, "v1/messages", JsonDocument.Parse(Body).RootElement);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(error is HttpRequestException or IOException, error?.ToString() ?? "no error");
        Assert.Equal(200, status);
    }

    [Fact]
    public void MidBodyFault_OnAFileDownload_IsAPlainReset()
    {
        var rule = FaultScenario.ParseFlags(["http:GET /v1/files/*/content:midBody=true"]).Http[0];

        Assert.True(rule.Reset);
        Assert.True(rule.MidBody);
        Assert.False(SyncApi.Answers("GET", "/v1/files/file-1/content"));
        Assert.True(SyncApi.Answers("POST", "/openai/deployments/gpt/chat/completions"));
    }

    [Theory]
    [InlineData("Emulated answer to: Hi there", true)]
    [InlineData("Emulated answer to: Tell me about the rings of Saturn, please.", true)]
    [InlineData("🙂🙂🙂🙂🙂🙂🙂", false)]
    [InlineData("{\"name\":\"name: banana\",\"sweet\":false,\"count\":1}", false)]
    [InlineData("x", false)]
    public void Pieces_JoinBackToTheText_InAFewPiecesThatKeepSurrogatePairsAndWordsWhole(string text, bool wordsWhole)
    {
        var pieces = Answers.StreamedAnswers.Pieces(text);

        Assert.Equal(text, string.Concat(pieces));
        Assert.InRange(pieces.Count, 1, 6);
        Assert.All(pieces, p => Assert.False(char.IsHighSurrogate(p[^1]), $"'{p}' ends inside a surrogate pair"));
        if (wordsWhole)
        {
            Assert.All(pieces[..^1], p => Assert.EndsWith(" ", p));
        }
    }
}
