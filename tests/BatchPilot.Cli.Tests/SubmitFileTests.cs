using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Running;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// <c>batchpilot submit-file</c> over real files, the real emulator on loopback and a real SQLite store: the output file
/// is the provider's own, line for line, in input order; the bodies go out byte for byte; bad files are refused before
/// anything is stored or sent; crashes, reruns and resume behave as for <c>run</c>.
/// </summary>
public sealed class SubmitFileTests
{
    /// <summary>Texts that must survive byte for byte: French accents, Chinese, escapes and odd spacing.</summary>
    private static readonly string[] Texts =
    [
        "Résumez : « Où est la bibliothèque ? » — déjà vu, naïve, cœur, Noël",
        "请用中文总结：批处理接口便宜一半，结果在二十四小时内返回。",
        "Mixed: café 咖啡 \\u00e9 \\\"quoted\\\" tab\\there",
        "Plain English question number",
    ];

    /// <summary>The OpenAI batch file: <paramref name="count"/> chat requests with unusual but valid JSON.</summary>
    private static string OpenAIFile(int count, string model = "gpt-4o-mini") =>
        string.Concat(Enumerable.Range(1, count).Select(i =>
            $$"""{"custom_id": "{{CustomId(i)}}", "method": "POST", "url": "/v1/chat/completions", "body": {{OpenAIBody(i, model)}}}""" + (i % 5 == 0 ? "\r\n\n" : "\n")));

    private static string CustomId(int i) => i % 4 == 1 ? $"demande-{i}" : $"request-{i}";

    private static string OpenAIBody(int i, string model = "gpt-4o-mini") =>
        $$$"""{"model": "{{{model}}}",  "messages": [{"role": "system", "content": "Réponds brièvement."}, {"role": "user", "content": "{{{Texts[i % Texts.Length]}}} {{{i}}}"}], "temperature": 0.50, "metadata_x": {"n": [{{{i}}}, 2.50e0]}}""";

    private static string AnthropicBody(int i) =>
        $$"""{"model": "{{(i % 3 == 0 ? "claude-sonnet-4-5" : "claude-haiku-4-5")}}", "max_tokens": 256, "messages": [{"role": "user", "content": "{{Texts[i % Texts.Length]}} {{i}}"}], "system": "Sois bref."}""";

    private static string AnthropicJsonl(int count) =>
        string.Concat(Enumerable.Range(1, count).Select(i => $$"""{"custom_id": "req_{{i}}", "params": {{AnthropicBody(i)}}}""" + "\n"));

    private static string AnthropicCreateBody(int count) =>
        "{\n  \"requests\": [\n" + string.Join(",\n", Enumerable.Range(1, count).Select(i => $$"""
                {
                  "custom_id": "req_{{i}}",
                  "params": {{AnthropicBody(i)}}
                }
            """)) + "\n  ]\n}\n";

    private static CliRunner Cli(TempWorkspace ws, EmulatorHost emu) =>
        new CliRunner(ws).WithEmulator(emu).With("BATCHPILOT_HTTP_RETRY_DELAY", "0.02");

    [Fact]
    public async Task SubmitFile_OutputIsTheBatchFileItself_IsRefusedBeforeAnythingIsSent_AndTheFileIsKept()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.Write("batch.jsonl", OpenAIFile(3));

        var r = await Cli(ws, emu).RunAsync("submit-file", input, "--out", input);

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {input}: '--out': the output would overwrite the input file. Choose another path (by default the output is batch.output.jsonl); a rerun reads the input again.", r.StdErr.Trim());
        Assert.Equal(OpenAIFile(3), await File.ReadAllTextAsync(input));
        Assert.Empty(emu.Server.ListBatches());
    }

    [Fact]
    public async Task SubmitFile_OpenAIFile_SplitToBatchSize_OutputIsTheProvidersOutputLineForLine_InInputOrder()
    {
        // Given 25 chat requests with French and Chinese text, sent in batches of 10
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.Write("batch.jsonl", OpenAIFile(25));
        var output = ws.PathOf("batch.output.jsonl");

        // When the file is submitted
        var r = await Cli(ws, emu).RunAsync("submit-file", input, "--batch-size", "10", "--json", "--check-interval", "0.2");

        // Then every request succeeded, in three provider batches of 10, 10 and 5, each request sent once
        Assert.True(r.ExitCode == 0, r.ToString());
        var view = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal((25, 25, 3), (view.GetProperty("total").GetInt32(), view.GetProperty("succeeded").GetInt32(), view.GetProperty("batches").GetInt32()));
        Assert.Equal(Path.GetFullPath(output), view.GetProperty("output").GetString());
        var batches = emu.Server.ListBatches().OrderBy(b => b.CreatedAt).ToList();
        Assert.Equal([10, 10, 5], batches.Select(b => b.RequestCount));
        var ids = Enumerable.Range(1, 25).Select(CustomId).ToList();
        Assert.Equal(ids, batches.SelectMany(b => b.CustomIds));

        // And the uploaded files carry every body byte for byte (accents, Chinese, escapes, spacing, unknown fields)
        var truth = new Dictionary<string, string>(StringComparer.Ordinal);
        var uploaded = new StringBuilder();
        foreach (var b in batches)
        {
            using var batch = JsonDocument.Parse(await OpenAIGetAsync(emu, "batches/" + b.Id));
            Assert.Equal("/v1/chat/completions", batch.RootElement.GetProperty("endpoint").GetString());
            uploaded.Append(await OpenAIGetAsync(emu, $"files/{batch.RootElement.GetProperty("input_file_id").GetString()}/content"));
            foreach (var line in Lines(await OpenAIGetAsync(emu, $"files/{batch.RootElement.GetProperty("output_file_id").GetString()}/content")))
            {
                truth.Add(JsonDocument.Parse(line).RootElement.GetProperty("custom_id").GetString()!, line);
            }
        }

        var sent = Encoding.UTF8.GetBytes(uploaded.ToString());
        for (var i = 1; i <= 25; i++)
        {
            Assert.True(sent.AsSpan().IndexOf(Encoding.UTF8.GetBytes("\"body\":" + OpenAIBody(i) + "}")) >= 0, $"body of {CustomId(i)} not sent verbatim");
        }

        // And the output has one line per input line, in input order, each the emulator's own output line
        var lines = await File.ReadAllLinesAsync(output);
        Assert.Equal(25, lines.Length);
        for (var i = 0; i < 25; i++)
        {
            Assert.Equal(truth[ids[i]], lines[i]);
            var root = JsonDocument.Parse(lines[i]).RootElement;
            Assert.Equal(["id", "custom_id", "response", "error"], root.EnumerateObject().Select(p => p.Name));
            Assert.Equal(ids[i], root.GetProperty("custom_id").GetString());
            Assert.StartsWith("batch_req_", root.GetProperty("id").GetString(), StringComparison.Ordinal);
            Assert.Equal(JsonValueKind.Null, root.GetProperty("error").ValueKind);
            var response = root.GetProperty("response");
            Assert.Equal(["status_code", "request_id", "body"], response.EnumerateObject().Select(p => p.Name));
            Assert.Equal(200, response.GetProperty("status_code").GetInt32());
            var content = response.GetProperty("body").GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
            Assert.Equal("Emulated answer to: " + JsonDocument.Parse(OpenAIBody(i + 1)).RootElement.GetProperty("messages")[1].GetProperty("content").GetString(), content);
        }
    }

    public static TheoryData<string, string> AnthropicFiles() => new()
    {
        { "requests.jsonl", AnthropicJsonl(12) },
        { "create-body.json", AnthropicCreateBody(12) },
    };

    [Theory]
    [MemberData(nameof(AnthropicFiles))]
    public async Task SubmitFile_AnthropicRequests_OutputIsTheResultsLines_InInputOrder(string name, string content)
    {
        // Given 12 Anthropic requests mixing two models, one per line or as a pretty-printed create body
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.Write(name, content);
        var output = ws.PathOf("out.jsonl");

        // When the file is submitted in batches of 5
        var r = await Cli(ws, emu).RunAsync("submit-file", input, "--batch-size", "5", "--out", output, "--check-interval", "0.2");

        // Then it went to Anthropic in three batches, and each output line is the emulator's results line, in input order
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("anthropic / claude-haiku-4-5, claude-sonnet-4-5", r.StdErr, StringComparison.Ordinal);
        var batches = emu.Server.ListBatches().OrderBy(b => b.CreatedAt).ToList();
        Assert.All(batches, b => Assert.Equal("anthropic", b.Provider));
        Assert.Equal([5, 5, 2], batches.Select(b => b.RequestCount));
        var truth = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var b in batches)
        {
            foreach (var line in Lines(await AnthropicGetAsync(emu, $"v1/messages/batches/{b.Id}/results")))
            {
                truth.Add(JsonDocument.Parse(line).RootElement.GetProperty("custom_id").GetString()!, line);
            }
        }

        var lines = await File.ReadAllLinesAsync(output);
        Assert.Equal(12, lines.Length);
        for (var i = 1; i <= 12; i++)
        {
            Assert.Equal(truth["req_" + i], lines[i - 1]);
            var result = JsonDocument.Parse(lines[i - 1]).RootElement.GetProperty("result");
            Assert.Equal("succeeded", result.GetProperty("type").GetString());
            var message = result.GetProperty("message");
            Assert.Equal(i % 3 == 0 ? "claude-sonnet-4-5" : "claude-haiku-4-5", message.GetProperty("model").GetString());
            Assert.Equal($"Emulated answer to: {JsonDocument.Parse("\"" + Texts[i % Texts.Length] + "\"").RootElement.GetString()} {i}", message.GetProperty("content")[0].GetProperty("text").GetString());
        }
    }

    [Fact]
    public async Task SubmitFile_SameCommandAgain_ContinuesTheJob_WithoutSendingAnything()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.Write("batch.jsonl", OpenAIFile(6));
        var cli = Cli(ws, emu);
        string[] args = ["submit-file", input, "--out", ws.PathOf("out.jsonl")];

        var first = await cli.RunAsync(args);
        var firstOutput = await File.ReadAllBytesAsync(ws.PathOf("out.jsonl"));
        var second = await cli.RunAsync(args);
        var secondOutput = await File.ReadAllBytesAsync(ws.PathOf("out.jsonl"));
        var fresh = await cli.RunAsync([.. args, "--new"]);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("Continuing job", second.StdErr, StringComparison.Ordinal);
        Assert.Equal(firstOutput, secondOutput);
        Assert.True(fresh.ExitCode == 0, fresh.ToString());
        Assert.Equal(2, emu.Server.ListBatches().Count);
        var jobs = JsonDocument.Parse((await cli.RunAsync("jobs", "--json")).StdOut).RootElement;
        Assert.Equal(2, jobs.GetArrayLength());
        Assert.All(jobs.EnumerateArray(), j => Assert.Equal("gpt-4o-mini", j.GetProperty("model").GetString()));
    }

    /// <summary>Bad files at the command line: the exact lines on stderr, exit 2, no job, nothing sent, no output.</summary>
    public static TheoryData<string, string, string[]> BadFiles() => new()
    {
        {
            "duplicate custom_id",
            OpenAIFile(2) + $$"""{"custom_id": "demande-1", "method": "POST", "url": "/v1/chat/completions", "body": {{OpenAIBody(3)}}}""" + "\n",
            ["error: IN, row 3: 'custom_id': custom_id 'demande-1' is already used on line 1. Every request needs its own custom_id: the results are matched back by it."]
        },
        {
            "mixed models",
            OpenAIFile(1) + OpenAIFile(2, "gpt-4o")[(OpenAIFile(1, "gpt-4o").Length)..],
            ["error: IN, row 2: 'body.model': the model is 'gpt-4o' but line 1 uses 'gpt-4o-mini'; an OpenAI batch file holds requests to one model. Split the file by model and submit each part on its own."]
        },
        {
            "wrong url",
            OpenAIFile(1).Replace("/v1/chat/completions", "/v1/chat/completion", StringComparison.Ordinal),
            ["error: IN, row 1: 'url': url '/v1/chat/completion' is not an endpoint of the OpenAI Batch API. Use one of /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/completions, /v1/moderations, /v1/images/generations, /v1/images/edits, /v1/videos."]
        },
        {
            "empty file",
            string.Empty,
            ["error: IN: file is empty. Write one JSON object per line."]
        },
        {
            "two problems",
            OpenAIFile(1) + "not json\n" + """{"custom_id": "x", "params": {}}""" + "\n",
            [
                "error: IN, row 2: line is not valid JSON: a value is misspelled (true, false and null are lowercase) (at character 2). Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
                "error: IN, row 3: 'params': unknown key: an OpenAI batch line holds only custom_id, method, url and body. This looks like an Anthropic request: pass --format anthropic, or move the request into \"body\".",
                "error: IN, row 3: 'method': method is missing. Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
                "error: IN, row 3: 'url': url is missing. Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
                "error: IN, row 3: 'body': body is missing. Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
                "error: IN: the file has 5 problems (listed above); nothing was sent. Fix them and run the same command again.",
            ]
        },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public async Task SubmitFile_BadFile_IsRefusedLineByLine_BeforeAnythingIsStoredOrSent(string name, string content, string[] expected)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var input = ws.Write("IN", content);
        var cli = Cli(ws, emu);

        var r = await cli.RunAsync("submit-file", input, "--out", ws.PathOf("out.jsonl"));

        Assert.True(r.ExitCode == 2, name + ": " + r);
        Assert.Equal(expected.Select(e => e.Replace("IN", input, StringComparison.Ordinal)), r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(emu.Server.ListBatches());
        Assert.Equal(0, emu.Server.Counters.Total);
        Assert.False(File.Exists(ws.PathOf("out.jsonl")));
        Assert.Equal("[]", (await cli.RunAsync("jobs", "--json")).StdOut.Trim());
    }

    [Fact]
    public async Task Resume_AfterInjectedItemFailures_ResendsOnlyThem_AndTheOutputThenHoldsEveryAnswer()
    {
        // Given an emulator that fails about a third of the requests on their first attempt
        using var ws = new TempWorkspace();
        var faults = new FaultScenario { Seed = 11, Items = [new ItemFaultRule { Error = "server_error", Rate = 0.35, FirstAttemptOnly = true }] };
        await using var emu = await EmulatorHost.StartAsync(faults: faults);
        var input = ws.Write("batch.jsonl", OpenAIFile(30));
        var output = ws.PathOf("out.jsonl");
        var cli = Cli(ws, emu);

        // When the file is submitted
        var run = await cli.RunAsync("submit-file", input, "--out", output, "--json");

        // Then the job ends with errors, and each failed request has the provider's error-file line, in input order
        Assert.True(run.ExitCode == 1, run.ToString());
        var jobId = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;
        var first = await File.ReadAllLinesAsync(output);
        Assert.Equal(Enumerable.Range(1, 30).Select(CustomId), first.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("custom_id").GetString()));
        var failed = first.Where(l => JsonDocument.Parse(l).RootElement.GetProperty("response").GetProperty("status_code").GetInt32() == 500).ToList();
        Assert.InRange(failed.Count, 1, 29);
        using (var batch = JsonDocument.Parse(await OpenAIGetAsync(emu, "batches/" + emu.Server.ListBatches()[0].Id)))
        {
            var errorFile = Lines(await OpenAIGetAsync(emu, $"files/{batch.RootElement.GetProperty("error_file_id").GetString()}/content"));
            Assert.Equal(errorFile, failed);
        }

        Assert.All(failed, l => Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(l).RootElement.GetProperty("error").ValueKind));

        // When the job is resumed
        var resume = await cli.RunAsync("resume", jobId, "--out", output);

        // Then exactly the failed requests went out again, and the output now holds an answer for every request, in order
        Assert.True(resume.ExitCode == 0, resume.ToString());
        var batches = emu.Server.ListBatches();
        Assert.Equal(2, batches.Count);
        Assert.Equal(failed.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("custom_id").GetString()), batches.OrderBy(b => b.CreatedAt).Last().CustomIds);
        var second = await File.ReadAllLinesAsync(output);
        Assert.Equal(30, second.Length);
        Assert.All(second, l => Assert.Equal(200, JsonDocument.Parse(l).RootElement.GetProperty("response").GetProperty("status_code").GetInt32()));
        Assert.Equal(first.Where(l => !failed.Contains(l)), second.Where(l => first.Contains(l)));
    }

    [Fact]
    public async Task SubmitFile_RequestsWithoutAResultLine_GetTheProvidersErrorShape_AndExportReproducesTheFile()
    {
        // Given a batch whose output file leaves out some lines, and a second that expires halfway
        using var ws = new TempWorkspace();
        var faults = new FaultScenario
        {
            Seed = 5,
            Batches = [new BatchFaultRule { Kind = "missing_lines", Fraction = 0.4, Nth = 1 }, new BatchFaultRule { Kind = "expire", Fraction = 0.5, Nth = 2 }],
        };
        await using var emu = await EmulatorHost.StartAsync(faults: faults);
        var input = ws.Write("batch.jsonl", OpenAIFile(20));
        var output = ws.PathOf("out.jsonl");
        var cli = Cli(ws, emu);

        // When the file is submitted in two batches, then exported again in the provider's format
        var run = await cli.RunAsync("submit-file", input, "--out", output, "--batch-size", "10", "--json");
        var jobId = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;
        var export = await cli.RunAsync("export", jobId, "--format", "provider", "--out", ws.PathOf("again.jsonl"));

        // Then a request with no line has the error-file shape (no response), expired ones the provider's own line
        Assert.True(run.ExitCode == 1, run.ToString());
        var lines = (await File.ReadAllLinesAsync(output)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(20, lines.Count);
        Assert.Equal(Enumerable.Range(1, 20).Select(CustomId), lines.Select(l => l.GetProperty("custom_id").GetString()));
        var missing = lines.Take(10).Where(l => l.GetProperty("response").ValueKind == JsonValueKind.Null).ToList();
        Assert.NotEmpty(missing);
        Assert.All(missing, l =>
        {
            Assert.Equal(["id", "custom_id", "response", "error"], l.EnumerateObject().Select(p => p.Name));
            Assert.Equal(JsonValueKind.Null, l.GetProperty("id").ValueKind);
            Assert.Equal("missing_result", l.GetProperty("error").GetProperty("code").GetString());
        });
        var expired = lines.Skip(10).Where(l => l.GetProperty("error").ValueKind == JsonValueKind.Object).ToList();
        Assert.Equal(5, expired.Count);
        Assert.All(expired, l => Assert.Equal(("batch_expired", JsonValueKind.String), (l.GetProperty("error").GetProperty("code").GetString(), l.GetProperty("id").ValueKind)));

        // And the export writes the very same file
        Assert.True(export.ExitCode == 0, export.ToString());
        Assert.Equal(await File.ReadAllBytesAsync(output), await File.ReadAllBytesAsync(ws.PathOf("again.jsonl")));
    }

    [Fact]
    public async Task Resume_InSyncMode_OfABatchFileJob_IsRefused()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        var cli = Cli(ws, emu);
        var run = await cli.RunAsync("submit-file", ws.Write("batch.jsonl", OpenAIFile(2)), "--json");
        var jobId = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;

        var r = await cli.RunAsync("resume", jobId, "--mode", "sync");

        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: '--mode': job {jobId} came from a batch file (submit-file), whose results are the provider's batch lines. Resume it in batch mode: leave out --mode sync.", r.StdErr.Trim());
    }

    public static TheoryData<string, string, int> CrashPoints() => new()
    {
        { "openai", Checkpoints.IngestChunk, 0 },
        { "openai", Checkpoints.SubmitStaged, 0 },
        { "openai", Checkpoints.SubmitCreated, 1 },
        { "openai", Checkpoints.CollectApplied, 0 },
        { "openai", Checkpoints.OutputWriting, 0 },
        { "anthropic", Checkpoints.SubmitCreated, 0 },
    };

    [Theory]
    [MemberData(nameof(CrashPoints))]
    public async Task Rerun_AfterSigkillAtCheckpoint_LosesNothingAndNeverResubmits(string format, string checkpoint, int passesBefore)
    {
        // Given the real tool as a child process, killed with SIGKILL at a checkpoint
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync();
        const int Requests = 7_000;
        var input = ws.Write("batch.jsonl", format == "openai" ? OpenAIFile(Requests) : AnthropicJsonl(Requests));
        var output = ws.PathOf("out.jsonl");
        var env = CrashTests.Environment(ws, emu);
        string[] args = ["submit-file", input, "--batch-size", "3000", "--out", output, "--check-interval", "0.2"];
        var crashEnv = new Dictionary<string, string?>(env) { ["BATCHPILOT_CRASH_AT"] = checkpoint, ["BATCHPILOT_CRASH_AFTER"] = passesBefore.ToString(CultureInfo.InvariantCulture) };

        var crashed = await ProcessRunner.RunAsync(args, crashEnv, ws.Root, TimeSpan.FromMinutes(2));
        Assert.True(crashed.ExitCode == 137, $"expected SIGKILL at {checkpoint}: {crashed}");
        Assert.False(File.Exists(output), "no output may exist after a crash");

        // When the same command runs again
        var rerun = await ProcessRunner.RunAsync(args, env, ws.Root, TimeSpan.FromMinutes(2));

        // Then one provider batch per planned batch, each request sent once, and the output complete and in order
        Assert.True(rerun.ExitCode == 0, $"rerun after {checkpoint}: {rerun}");
        var batches = emu.Server.ListBatches();
        Assert.Equal(3, batches.Count);
        var sent = batches.SelectMany(b => b.CustomIds).ToList();
        Assert.Equal(Requests, sent.Count);
        Assert.Equal(Requests, sent.Distinct(StringComparer.Ordinal).Count());
        var lines = await File.ReadAllLinesAsync(output);
        Assert.Equal(Requests, lines.Length);
        for (var i = 1; i <= Requests; i += 997)
        {
            Assert.Equal(format == "openai" ? CustomId(i) : "req_" + i, JsonDocument.Parse(lines[i - 1]).RootElement.GetProperty("custom_id").GetString());
        }

        Assert.Empty(Directory.GetFiles(ws.Root, ".out.jsonl.*.tmp"));
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static async Task<string> OpenAIGetAsync(EmulatorHost emu, string relative)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(emu.OpenAIBaseUrl.TrimEnd('/') + "/"), relative));
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-test");
        return await SendAsync(req);
    }

    private static async Task<string> AnthropicGetAsync(EmulatorHost emu, string relative)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(emu.AnthropicBaseUrl + "/"), relative));
        req.Headers.Add("x-api-key", "sk-ant-test");
        req.Headers.Add("anthropic-version", "2023-06-01");
        return await SendAsync(req);
    }

    private static async Task<string> SendAsync(HttpRequestMessage req)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var resp = await http.SendAsync(req);
        resp.EnsureSuccessStatusCode();
        return await resp.Content.ReadAsStringAsync();
    }
}
