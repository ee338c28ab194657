using System.Text;
using BatchPilot.Errors;
using BatchPilot.Inputs.BatchFiles;
using BatchPilot.Providers;

namespace BatchPilot.Inputs.Tests.BatchFiles;

/// <summary>Reading and checking OpenAI batch files and Anthropic requests files, over real files.</summary>
public sealed class BatchFileTests
{
    private const string ChatLine1 = """{"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are a helpful assistant."},{"role": "user", "content": "Hello world!"}],"max_tokens": 1000}}""";
    private const string FrenchBody = """{"model": "gpt-4o-mini",  "messages": [{"role": "user", "content": "Résumez : « Où est la bibliothèque ? » — déjà vu, naïve, cœur"}], "temperature": 0.70, "x_extension": {"nested": [1, 2.50, "\u00e9"]}}""";
    private const string ChineseBody = """{"messages":[{"role":"user","content":"请用中文总结：批处理接口便宜一半。"}],"model":"gpt-4o-mini","logprobs":true}""";

    private static string OpenAI(string customId, string body, string url = "/v1/chat/completions") =>
        $$"""{"custom_id": "{{customId}}", "method": "POST", "url": "{{url}}", "body": {{body}}}""";

    [Fact]
    public void Validate_OpenAIFile_FindsTheEndpointModelAndCount()
    {
        using var folder = new TempFolder();
        var path = folder.Write("batch.jsonl", ChatLine1 + "\n" + OpenAI("fr", FrenchBody) + "\n\n" + OpenAI("zh", ChineseBody) + "\n");

        var info = BatchFile.Validate(path);

        Assert.Empty(info.Problems);
        Assert.Equal(ProviderNames.OpenAI, info.Provider);
        Assert.False(info.IsRequestsBody);
        Assert.Equal("/v1/chat/completions", info.Url);
        Assert.Equal(["gpt-4o-mini"], info.Models);
        Assert.Equal("gpt-4o-mini", info.ModelLabel);
        Assert.Equal(3, info.Requests);
    }

    [Fact]
    public void ReadRequests_KeepsEveryBodyByteForByte_WithTheLineItStartsOn()
    {
        // Given bodies with accents, Chinese, escapes, odd spacing, number spellings and unknown fields
        using var folder = new TempFolder();
        var path = folder.Write("batch.jsonl", "\uFEFF" + OpenAI("fr", FrenchBody) + "\r\n\r\n" + OpenAI("zh", ChineseBody) + "\n");
        var info = BatchFile.Validate(path);

        // When the requests are read
        var requests = BatchFile.ReadRequests(info).ToList();

        // Then each body is the file's text exactly, and the lines count the blank one
        Assert.Equal([("fr", 1L), ("zh", 3L)], requests.Select(r => (r.CustomId, r.Line)));
        Assert.Equal(Encoding.UTF8.GetBytes(FrenchBody), Encoding.UTF8.GetBytes(requests[0].Body));
        Assert.Equal(ChineseBody, requests[1].Body);
    }

    [Fact]
    public void Validate_AnthropicJsonl_AllowsMixedModels()
    {
        using var folder = new TempFolder();
        var path = folder.Write("requests.jsonl", """
            {"custom_id": "a-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Bonjour, élève"}]}}
            {"custom_id": "a-2", "params": {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "你好"}], "system": "Sois bref."}}
            {"custom_id": "a-3", "params": {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": []}}
            """);

        var info = BatchFile.Validate(path);

        Assert.Empty(info.Problems);
        Assert.Equal(ProviderNames.Anthropic, info.Provider);
        Assert.Null(info.Url);
        Assert.Equal(["claude-haiku-4-5", "claude-sonnet-4-5"], info.Models);
        Assert.Equal("claude-haiku-4-5, claude-sonnet-4-5", info.ModelLabel);
        Assert.Equal(3, info.Requests);
    }

    [Fact]
    public void ReadRequests_PrettyPrintedCreateBody_LargerThanTheBuffer_GivesEveryRequestWithItsLine()
    {
        // Given a create body of 600 pretty-printed requests (several buffer fills), each four lines long
        var sb = new StringBuilder("{\n  \"requests\": [\n");
        for (var i = 1; i <= 600; i++)
        {
            sb.Append("    {\n      \"custom_id\": \"req-").Append(i).Append("\",\n");
            sb.Append("      \"params\": {\"model\": \"claude-haiku-4-5\", \"max_tokens\": 100, \"messages\": [{\"role\": \"user\", \"content\": \"Question ").Append(i).Append(" : où, 何处 ").Append(new string('x', i % 300)).Append("\"}]}\n");
            sb.Append(i < 600 ? "    },\n" : "    }\n");
        }

        sb.Append("  ]\n}\n");
        using var folder = new TempFolder();
        var path = folder.Write("create.json", sb.ToString());

        // When it is validated and read
        var info = BatchFile.Validate(path);
        var requests = BatchFile.ReadRequests(info).ToList();

        // Then it is an Anthropic body, and request i starts on line 3 + 4 (i - 1) with its params verbatim
        Assert.Empty(info.Problems);
        Assert.True(info.IsRequestsBody);
        Assert.Equal(ProviderNames.Anthropic, info.Provider);
        Assert.True(new FileInfo(path).Length > 3 * 64 * 1024);
        Assert.Equal(600, requests.Count);
        for (var i = 1; i <= 600; i++)
        {
            var r = requests[i - 1];
            Assert.Equal("req-" + i, r.CustomId);
            Assert.Equal(3 + (4 * (i - 1)), r.Line);
            Assert.Equal($"{{\"model\": \"claude-haiku-4-5\", \"max_tokens\": 100, \"messages\": [{{\"role\": \"user\", \"content\": \"Question {i} : où, 何处 {new string('x', i % 300)}\"}}]}}", r.Body);
        }
    }

    [Fact]
    public void Validate_SingleLineCreateBody_IsAnthropic()
    {
        using var folder = new TempFolder();
        var path = folder.Write("body.json", """{"requests":[{"custom_id":"x","params":{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}}]}""");

        var info = BatchFile.Validate(path);

        Assert.Empty(info.Problems);
        Assert.True(info.IsRequestsBody);
        Assert.Equal("x", Assert.Single(BatchFile.ReadRequests(info)).CustomId);
    }

    [Fact]
    public void Validate_ModerationsWithoutModel_IsAccepted()
    {
        using var folder = new TempFolder();
        var path = folder.Write("mod.jsonl", OpenAI("m-1", """{"input": "This is a harmless test sentence."}""", "/v1/moderations") + "\n"
            + OpenAI("m-2", """{"input": "Une phrase anodine."}""", "/v1/moderations") + "\n");

        var info = BatchFile.Validate(path);

        Assert.Empty(info.Problems);
        Assert.Equal("/v1/moderations", info.Url);
        Assert.Equal("(default)", info.ModelLabel);
    }

    /// <summary>Each problem of one request: the file content (lines joined by \n) and the exact line the user sees.</summary>
    public static TheoryData<string, string, string, string?> Problems() => new()
    {
        {
            "not JSON", "{\"custom_id\": \"a\", \"method\": \"POST\"",
            "F, row 1: line is not valid JSON: the line ends before the object is closed (at character 36). Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
            "openai"
        },
        {
            "not an object", "[1, 2]",
            "F, row 1: line is an array, not a JSON object. Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
            "openai"
        },
        {
            "missing custom_id", """{"method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini"}}""",
            "F, row 1: 'custom_id': custom_id is missing. Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
            null
        },
        {
            "custom_id not a string", """{"custom_id": 7, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini"}}""",
            "F, row 1: 'custom_id': custom_id must be a string, not a number. Write custom_id as a string.",
            null
        },
        {
            "empty custom_id", """{"custom_id": "", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini"}}""",
            "F, row 1: 'custom_id': custom_id is empty. Give every request a unique, non-empty custom_id.",
            null
        },
        {
            "duplicate custom_id", ChatLine1 + "\n" + ChatLine1,
            "F, row 2: 'custom_id': custom_id 'request-1' is already used on line 1. Every request needs its own custom_id: the results are matched back by it.",
            null
        },
        {
            "method not POST", ChatLine1.Replace("\"POST\"", "\"GET\"", StringComparison.Ordinal),
            "F, row 1: 'method': method is 'GET'; the Batch API sends only POST requests. Write \"method\": \"POST\".",
            null
        },
        {
            "method missing", ChatLine1.Replace("\"method\": \"POST\", ", string.Empty, StringComparison.Ordinal),
            "F, row 1: 'method': method is missing. Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
            "openai"
        },
        {
            "unsupported url", ChatLine1.Replace("/v1/chat/completions", "/v1/chat", StringComparison.Ordinal),
            "F, row 1: 'url': url '/v1/chat' is not an endpoint of the OpenAI Batch API. Use one of /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/completions, /v1/moderations, /v1/images/generations, /v1/images/edits, /v1/videos.",
            null
        },
        {
            "mixed urls", ChatLine1 + "\n" + OpenAI("r-2", """{"model": "gpt-4o-mini", "input": "x"}""", "/v1/responses"),
            "F, row 2: 'url': url is '/v1/responses' but line 1 uses '/v1/chat/completions'; an OpenAI batch sends every request to one endpoint. Split the file by url and submit each part on its own.",
            null
        },
        {
            "body not an object", OpenAI("b", "\"hello\""),
            "F, row 1: 'body': body must be an object, not a string. Write body as an object.",
            null
        },
        {
            "body missing", """{"custom_id": "b", "method": "POST", "url": "/v1/chat/completions"}""",
            "F, row 1: 'body': body is missing. Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
            "openai"
        },
        {
            "model missing", OpenAI("b", """{"messages": []}"""),
            "F, row 1: 'body.model': body.model is missing. Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}.",
            null
        },
        {
            "mixed models", ChatLine1 + "\n" + OpenAI("b", """{"model": "gpt-4o", "messages": []}"""),
            "F, row 2: 'body.model': the model is 'gpt-4o' but line 1 uses 'gpt-4o-mini'; an OpenAI batch file holds requests to one model. Split the file by model and submit each part on its own.",
            null
        },
        {
            "unknown key", ChatLine1[..^1] + ", \"priority\": 1}",
            "F, row 1: 'priority': unknown key: an OpenAI batch line holds only custom_id, method, url and body. Remove it (it would not be sent), or move it into \"body\".",
            null
        },
        {
            "key twice", ChatLine1[..^1] + ", \"custom_id\": \"again\"}",
            "F, row 1: 'custom_id': this key appears twice in the request. Keep one value per key.",
            null
        },
        {
            "stream", OpenAI("s", """{"model": "gpt-4o-mini", "messages": [], "stream": true}"""),
            "F, row 1: 'body.stream': stream is true; batch requests cannot stream. Remove \"stream\": true.",
            null
        },
        {
            "anthropic custom_id", """{"custom_id": "has space", "params": {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": []}}""",
            "F, row 1: 'custom_id': custom_id 'has space' is not accepted by Anthropic: 1 to 64 letters, digits, '-' or '_'. Rename it (the results are matched back by custom_id).",
            null
        },
        {
            "anthropic custom_id too long", "{\"custom_id\": \"" + new string('a', 65) + "\", \"params\": {\"model\": \"claude-haiku-4-5\", \"max_tokens\": 10, \"messages\": []}}",
            $"F, row 1: 'custom_id': custom_id '{new string('a', 65)}' is not accepted by Anthropic: 1 to 64 letters, digits, '-' or '_'. Rename it (the results are matched back by custom_id).",
            null
        },
        {
            "anthropic max_tokens missing", """{"custom_id": "a", "params": {"model": "claude-haiku-4-5", "messages": []}}""",
            "F, row 1: 'params.max_tokens': params.max_tokens is missing; Anthropic requires it. Write \"max_tokens\": 1024 (the most output tokens to allow) in params.",
            null
        },
        {
            "anthropic max_tokens zero", """{"custom_id": "a", "params": {"model": "claude-haiku-4-5", "max_tokens": 0, "messages": []}}""",
            "F, row 1: 'params.max_tokens': params.max_tokens must be a whole number of at least 1. Write \"max_tokens\": 1024 (the most output tokens to allow) in params.",
            null
        },
        {
            "anthropic params missing model", """{"custom_id": "a", "params": {"max_tokens": 10, "messages": []}}""",
            "F, row 1: 'params.model': params.model is missing. Each line is one request: {\"custom_id\": \"request-1\", \"params\": {\"model\": \"claude-haiku-4-5\", \"max_tokens\": 1024, \"messages\": [...]}}.",
            null
        },
        {
            "anthropic messages not an array", """{"custom_id": "a", "params": {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": "hi"}}""",
            "F, row 1: 'params.messages': params.messages must be an array, not a string. Write params.messages as an array.",
            null
        },
        {
            "anthropic with an OpenAI key", """{"custom_id": "a", "url": "/v1/messages", "params": {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": []}}""",
            "F, row 1: 'url': unknown key: an Anthropic request holds only custom_id and params. This looks like an OpenAI batch line: pass --format openai, or move the request into \"params\".",
            null
        },
    };

    [Theory]
    [MemberData(nameof(Problems))]
    public void Validate_OneBadRequest_IsReportedOnItsLine(string name, string content, string expected, string? format)
    {
        // Given a small real file holding the problem
        using var folder = new TempFolder();
        var path = folder.Write("F", content + "\n");

        // When it is checked
        var info = BatchFile.Validate(path, new BatchFileOptions { Format = format });

        // Then exactly that problem is reported, in its exact words
        var problem = Assert.Single(info.Problems);
        Assert.True(path[..^1] + expected == problem.ToUserLine(), $"{name}:\n  expected {expected}\n  actual   {problem.ToUserLine()}");
        Assert.Equal(ExitCodes.BadInput, problem.ExitCode);
        Assert.Same(problem, BatchFile.ProblemsError(info));
    }

    [Fact]
    public void Validate_RequestLargerThanABatch_IsReportedWithBothSizes()
    {
        using var folder = new TempFolder();
        var big = OpenAI("big", $$"""{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{{new string('é', 600)}}"}]}""");
        var path = folder.Write("F", ChatLine1 + "\n" + big + "\n");

        var info = BatchFile.Validate(path, new BatchFileOptions { Limits = new ProviderLimits(10, 1000) });

        var problem = Assert.Single(info.Problems);
        Assert.Equal($"{path}, row 2: this request is {Encoding.UTF8.GetByteCount(big) + 1} bytes, more than a whole batch may hold (1000 bytes). Shorten it: no batch can carry it.", problem.ToUserLine());
    }

    [Fact]
    public void Validate_ManyProblems_StopsAtTheLimitAndSaysSo()
    {
        using var folder = new TempFolder();
        var path = folder.Write("F", string.Join("\n", Enumerable.Range(1, 30).Select(_ => "[]")) + "\n");

        var info = BatchFile.Validate(path, new BatchFileOptions { Format = "openai", MaxProblems = 4 });

        Assert.Equal(4, info.Problems.Count);
        Assert.Equal([1L, 2L, 3L, 4L], info.Problems.Select(p => p.Row!.Value));
        Assert.True(info.MoreProblems);
        Assert.Equal($"{path}: the file has more than 4 problems (the first 4 are listed above); nothing was sent. Fix them and run the same command again.", BatchFile.ProblemsError(info).ToUserLine());
    }

    [Fact]
    public void Validate_InvalidUtf8_NamesTheLineAndTheLikelyEncoding()
    {
        using var folder = new TempFolder();
        var latin1 = Encoding.Latin1.GetBytes(OpenAI("l", """{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Déjà vu"}]}"""));
        var path = folder.Write("F", [.. Encoding.UTF8.GetBytes(ChatLine1 + "\n"), .. latin1, (byte)'\n']);

        var problem = Assert.Single(BatchFile.Validate(path).Problems);

        Assert.Equal(2, problem.Row);
        Assert.Equal("contains bytes that are not valid UTF-8", problem.Message);
        Assert.Contains("iconv -f latin1 -t utf-8", problem.Hint, StringComparison.Ordinal);
    }

    /// <summary>Problems with the file as a whole: nothing can be checked, one line says why.</summary>
    public static TheoryData<string, byte[], string?, string> FileProblems() => new()
    {
        { "empty", [], null, "F: file is empty. Write one JSON object per line." },
        { "blank lines only", "\n \n\r\n"u8.ToArray(), null, "F: file is empty: it holds only blank lines. Write one JSON object per line." },
        { "no requests in the body", """{"requests": []}"""u8.ToArray(), null, "F: the file holds no requests. Write one request per line (or a non-empty \"requests\" array)." },
        { "not a batch file", """{"id": 1, "text": "a table row"}"""u8.ToArray(), null, "F: no line is an OpenAI batch request (custom_id, method, url, body) or an Anthropic request (custom_id, params). Check that this is a batch file, or name its format with --format openai or --format anthropic." },
        { "json array", "[\n  {\"custom_id\": \"a\", \"params\": {}}\n]\n"u8.ToArray(), null, "F, row 1: the file starts with an array, not a JSON object. Write one request per line, or an Anthropic create body {\"requests\": [...]}; for a JSON array use jq -c '.[]' in.json > in.jsonl." },
        { "body given as openai", """{"requests": [{"custom_id": "a", "params": {}}]}"""u8.ToArray(), "openai", "F: the file is an Anthropic create body ({\"requests\": [...]}), not an OpenAI batch file. Leave out --format openai, or pass an OpenAI batch file (one {\"custom_id\", \"method\", \"url\", \"body\"} per line)." },
        { "body with another key", "{\n  \"requests\": [],\n  \"model\": \"x\"\n}"u8.ToArray(), null, "F, row 3: 'model': unknown key 'model' in the create body, which holds only \"requests\". Remove it: it would not be sent." },
        { "requests not an array", "{\"requests\": {}}"u8.ToArray(), null, "F, row 1: 'requests': \"requests\" is an object, not an array. Write \"requests\": [ {\"custom_id\": ..., \"params\": {...}}, ... ]." },
        { "body cut short", "{\"requests\": [\n{\"custom_id\": \"a\", \"params\": {\"model\": \"claude-haiku-4-5\"}}\n"u8.ToArray(), null, "F: the file ends before its JSON object is closed. Check that the file is complete: every [ and { needs its ] and }." },
        { "body broken", "{\"requests\": [\n{\"custom_id\": \"a\",, \"params\": {}}]}"u8.ToArray(), null, "F, row 2: the file is not valid JSON: ',' is an invalid start of a property name. An Anthropic create body is one JSON object {\"requests\": [...]}; or write one request per line." },
        { "utf-16", [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(ChatLine1)], null, "F: the file is UTF-16 or UTF-32 text; batch files are UTF-8. Save it as UTF-8 (without changing anything else)." },
        { "zip", [(byte)'P', (byte)'K', 3, 4, 0, 0], null, "F: this is an Excel workbook or another zip archive, not a CSV or JSONL file. In Excel, use File > Save As > CSV UTF-8 (comma delimited), then pass the .csv file." },
    };

    [Theory]
    [MemberData(nameof(FileProblems))]
    public void Validate_UnusableFile_ThrowsOneLine(string name, byte[] content, string? format, string expected)
    {
        using var folder = new TempFolder();
        var path = folder.Write("F", content);

        var ex = Assert.Throws<InputException>(() => BatchFile.Validate(path, new BatchFileOptions { Format = format }));

        var line = ex.ToUserLine();
        Assert.True(line == path[..^1] + expected, $"{name}:\n  expected {expected}\n  actual   {line}");
    }

    [Theory]
    [InlineData("openai-batch.jsonl", "openai", "gpt-4o-mini", 6)]
    [InlineData("anthropic-requests.jsonl", "anthropic", "claude-haiku-4-5, claude-sonnet-4-5", 3)]
    public void Validate_BundledExamples_AreUsableBatchFiles(string name, string provider, string model, int requests)
    {
        var info = BatchFile.Validate(RepositoryFiles.PathOf("examples", name));

        Assert.Empty(info.Problems);
        Assert.Equal((provider, model, (long)requests), (info.Provider, info.ModelLabel, info.Requests));
    }

    [Fact]
    public void Validate_StandardInput_IsRefused()
    {
        var ex = Assert.Throws<InputException>(() => BatchFile.Validate("-"));

        Assert.Equal("<stdin>: a batch file is read more than once (checked, hashed, then sent), so it cannot be standard input or a pipe. Save the requests to a .jsonl file and pass its path.", ex.ToUserLine());
    }

    [Fact]
    public void ParseFormat_UnknownValue_NamesTheOption()
    {
        var ex = Assert.Throws<InputException>(() => BatchFile.ParseFormat("csv"));

        Assert.Equal("'--format': unknown batch file format 'csv'. Use openai (custom_id, method, url, body) or anthropic (custom_id, params).", ex.ToUserLine());
        Assert.Equal(ProviderNames.Anthropic, BatchFile.ParseFormat(" Anthropic "));
        Assert.Null(BatchFile.ParseFormat(null));
    }

    [Fact]
    public void ReadRequests_FileChangedAfterValidation_SaysSo()
    {
        using var folder = new TempFolder();
        var path = folder.Write("F", ChatLine1 + "\n");
        var info = BatchFile.Validate(path);
        File.WriteAllText(path, "[]\n");

        var ex = Assert.Throws<InputException>(() => BatchFile.ReadRequests(info).ToList());

        Assert.Equal("file changed while it was being read", ex.Message);
        Assert.Equal(1, ex.Row);
    }
}
