using System.Text;
using System.Text.Json;
using BatchPilot.Providers.Anthropic;
using BatchPilot.Providers.OpenAI;
using BatchPilot.Testing;

namespace BatchPilot.Providers.Tests;

/// <summary>Raw bodies (submit-file) go out byte for byte, to the file's endpoint, and the provider's lines come back verbatim.</summary>
public sealed class RawBodyTests
{
    private const string OddBody = """{"model": "gpt-4o-mini",   "input": "Résumez « ça » — 中文", "temperature": 0.70, "x": {"y": [1, 2.50, "\u00e9"]}}""";

    private static string Write(Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            write(w);
        }

        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static LlmRequest Raw(string body) => new() { Model = "ignored", UserText = "ignored", System = "ignored", MaxTokens = 1, RawBody = body };

    [Fact]
    public void OpenAILine_WithARawBody_SendsItVerbatimToTheGivenEndpoint()
    {
        var line = Write(w => OpenAIBatchClient.WriteLine(w, new IdentifiedRequest("r-1", Raw(OddBody)), "/v1/responses"));

        Assert.Equal("""{"custom_id":"r-1","method":"POST","url":"/v1/responses","body":""" + OddBody + "}", line);
    }

    [Fact]
    public void AnthropicParams_WithARawBody_AreTheBodyVerbatim()
    {
        const string body = """{ "model":"claude-haiku-4-5","max_tokens":5 ,"messages":[{"role":"user","content":"你好"}],"metadata":{"user_id":"u"} }""";

        Assert.Equal(body, Write(w => AnthropicBatchClient.WriteParams(w, Raw(body))));
    }

    [Fact]
    public async Task Batch_ToTheResponsesEndpoint_SendsRawBodies_AndReturnsTheProvidersLinesVerbatim()
    {
        // Given an OpenAI client whose batches go to /v1/responses
        await using var emu = await EmulatorHost.StartAsync();
        using var ws = new TempWorkspace();
        using var client = BatchClients.Create(new BatchClientOptions
        {
            Provider = ProviderNames.OpenAI,
            BaseUrl = new Uri(emu.OpenAIBaseUrl),
            ApiKey = "sk-test",
            SpoolDirectory = ws.PathOf("spool"),
            BatchEndpoint = "/v1/responses",
        });
        var bodies = new[] { OddBody, """{"model":"gpt-4o-mini","input":"Deuxième"}""" };

        // When the batch is staged, created, run and read back
        var staged = await client.StageAsync(new BatchStaging { Token = "raw-1", Count = 2, Requests = Requests(bodies) });
        var uploaded = await GetAsync(emu, $"files/{staged}/content");
        var created = await client.CreateAsync(staged, "raw-1");
        var ended = await WaitAsync(client, created.Id);
        var lines = new List<ResultLine>();
        await foreach (var line in client.ReadResultsAsync(ended))
        {
            lines.Add(line);
        }

        // Then the uploaded file holds the bodies byte for byte, the batch's endpoint is the file's, and each result keeps its line
        Assert.Equal(
            string.Concat(bodies.Select((b, i) => $$"""{"custom_id":"r-{{i + 1}}","method":"POST","url":"/v1/responses","body":{{b}}}""" + "\n")),
            uploaded);
        using var batch = JsonDocument.Parse(await GetAsync(emu, "batches/" + created.Id));
        Assert.Equal("/v1/responses", batch.RootElement.GetProperty("endpoint").GetString());
        var output = (await GetAsync(emu, $"files/{ended.OutputFileId}/content")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(output, lines.Select(l => l.Raw));
        Assert.Equal(["r-1", "r-2"], lines.Select(l => l.CustomId));
        Assert.All(lines, l => Assert.Equal(ResultKind.Succeeded, l.Kind));
        Assert.Equal("Emulated answer to: Résumez « ça » — 中文", lines[0].Text);
    }

    private static async IAsyncEnumerable<IdentifiedRequest> Requests(string[] bodies)
    {
        await Task.Yield();
        for (var i = 0; i < bodies.Length; i++)
        {
            yield return new IdentifiedRequest("r-" + (i + 1), Raw(bodies[i]));
        }
    }

    private static async Task<ProviderBatch> WaitAsync(IBatchClient client, string id)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var b = await client.GetAsync(id, bound.Token);
            if (b.End != BatchEnd.None)
            {
                return b;
            }

            await Task.Delay(50, bound.Token);
        }
    }

    private static async Task<string> GetAsync(EmulatorHost emu, string relative)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var req = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(emu.OpenAIBaseUrl.TrimEnd('/') + "/"), relative));
        req.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "sk-test");
        using var resp = await http.SendAsync(req);
        resp.EnsureSuccessStatusCode();
        return await resp.Content.ReadAsStringAsync();
    }
}
