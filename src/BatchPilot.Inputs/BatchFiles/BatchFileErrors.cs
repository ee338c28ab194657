using System.Globalization;
using System.Text.Json;
using BatchPilot.Errors;
using BatchPilot.Inputs.Internal;

namespace BatchPilot.Inputs.BatchFiles;

/// <summary>
/// Every user-facing message of the batch-file reader, in one place so that they read alike and the exact-message tests
/// have one file to follow. Each returns the exception for the caller to throw or to collect.
/// </summary>
internal static class BatchFileErrors
{
    private const string OpenAIShape = "Each line is one request: {\"custom_id\": \"request-1\", \"method\": \"POST\", \"url\": \"/v1/chat/completions\", \"body\": {\"model\": \"gpt-4o-mini\", \"messages\": [...]}}";
    private const string AnthropicShape = "Each line is one request: {\"custom_id\": \"request-1\", \"params\": {\"model\": \"claude-haiku-4-5\", \"max_tokens\": 1024, \"messages\": [...]}}";

    private static string Shape(bool anthropic) => anthropic ? AnthropicShape : OpenAIShape;

    private static string BodyKey(bool anthropic) => anthropic ? "params" : "body";

    // ------------------------------------------------------------- the file as a whole (fatal)

    public static InputException BadFormat(string value) =>
        new($"unknown batch file format '{value}'", field: "--format", hint: "Use openai (custom_id, method, url, body) or anthropic (custom_id, params)");

    public static InputException StandardInput(string file) =>
        new("a batch file is read more than once (checked, hashed, then sent), so it cannot be standard input or a pipe", file: file,
            hint: "Save the requests to a .jsonl file and pass its path");

    public static InputException NotUtf8Encoding(string file) =>
        new("the file is UTF-16 or UTF-32 text; batch files are UTF-8", file: file, hint: "Save it as UTF-8 (without changing anything else)");

    public static InputException UnknownFormat(string file) =>
        new("no line is an OpenAI batch request (custom_id, method, url, body) or an Anthropic request (custom_id, params)", file: file,
            hint: "Check that this is a batch file, or name its format with --format openai or --format anthropic");

    public static InputException BodyForOpenAI(string file) =>
        new("the file is an Anthropic create body ({\"requests\": [...]}), not an OpenAI batch file", file: file,
            hint: "Leave out --format openai, or pass an OpenAI batch file (one {\"custom_id\", \"method\", \"url\", \"body\"} per line)");

    public static InputException NoRequests(string file) =>
        new("the file holds no requests", file: file, hint: "Write one request per line (or a non-empty \"requests\" array)");

    public static InputException LineTooLong(string file, long line) =>
        new($"this line is longer than {Limits.MaxRecordBytes / (1024 * 1024)} MiB, more than any model accepts in one request", file: file, row: line,
            hint: "Shorten the request; if the file is one JSON array, convert it to one request per line, for example with jq -c '.[]' in.json > in.jsonl");

    public static InputException RequestTooLongToRead(string file, long line) =>
        new($"the request starting here is longer than {Limits.MaxRecordBytes / (1024 * 1024)} MiB, more than any model accepts in one request", file: file, row: line,
            hint: "Shorten the request, or check that every bracket and quote is closed");

    public static InputException BodyInvalidJson(string file, JsonException ex) =>
        new($"the file is not valid JSON: {FirstSentence(ex.Message)}", ex, file: file, row: ex.LineNumber + 1,
            hint: "An Anthropic create body is one JSON object {\"requests\": [...]}; or write one request per line");

    public static InputException BodyEndsEarly(string file) =>
        new("the file ends before its JSON object is closed", file: file, hint: "Check that the file is complete: every [ and { needs its ] and }");

    public static InputException BodyNotAnObject(string file, string kind) =>
        new($"the file starts with {kind}, not a JSON object", file: file, row: 1,
            hint: "Write one request per line, or an Anthropic create body {\"requests\": [...]}; for a JSON array use jq -c '.[]' in.json > in.jsonl");

    public static InputException BodyKey(string file, long line, string key, bool repeated) =>
        repeated && key == "requests"
            ? new("\"requests\" appears twice", file: file, row: line, field: key, hint: "Keep one \"requests\" array")
            : new($"unknown key '{key}' in the create body, which holds only \"requests\"", file: file, row: line, field: key, hint: "Remove it: it would not be sent");

    public static InputException RequestsNotAnArray(string file, long line, string kind) =>
        new($"\"requests\" is {kind}, not an array", file: file, row: line, field: "requests", hint: "Write \"requests\": [ {\"custom_id\": ..., \"params\": {...}}, ... ]");

    public static InputException ChangedWhileReading(string file, long line) => InputErrors.ChangedWhileReading(file, line);

    // ------------------------------------------------------------- one request (collected, several per file)

    public static InputException NotUtf8(string file, long line, ReadOnlySpan<byte> bytes) =>
        new("contains bytes that are not valid UTF-8", file: file, row: line,
            hint: $"Batch files are UTF-8: the file looks like {TextChecks.SuggestEncoding(bytes)}; convert it, for example with iconv -f {TextChecks.SuggestEncoding(bytes)} -t utf-8");

    public static InputException InvalidJson(string file, long line, string detail, bool anthropic) =>
        new($"line is not valid JSON: {detail}", file: file, row: line, hint: Shape(anthropic));

    public static InputException NotAnObject(string file, long line, string kind, bool anthropic) =>
        new($"line is {kind}, not a JSON object", file: file, row: line, hint: Shape(anthropic));

    public static InputException DuplicateKey(string file, long line, string key) =>
        new("this key appears twice in the request", file: file, row: line, field: key, hint: "Keep one value per key");

    public static InputException UnknownKey(string file, long line, string key, bool anthropic) =>
        new(anthropic ? "unknown key: an Anthropic request holds only custom_id and params" : "unknown key: an OpenAI batch line holds only custom_id, method, url and body",
            file: file, row: line, field: key, hint: (anthropic, key) switch
            {
                (true, "body" or "method" or "url") => "This looks like an OpenAI batch line: pass --format openai, or move the request into \"params\"",
                (false, "params") => "This looks like an Anthropic request: pass --format anthropic, or move the request into \"body\"",
                _ => "Remove it (it would not be sent), or move it into \"" + BodyKey(anthropic) + "\"",
            });

    public static InputException Missing(string file, long line, string field, bool anthropic) =>
        new($"{field} is missing", file: file, row: line, field: field, hint: Shape(anthropic));

    public static InputException WrongType(string file, long line, string field, string expected, JsonTokenType found) =>
        new($"{field} must be {expected}, not {RequestParser.Describe(found)}", file: file, row: line, field: field, hint: $"Write {field} as {expected}");

    public static InputException EmptyCustomId(string file, long line) =>
        new("custom_id is empty", file: file, row: line, field: "custom_id", hint: "Give every request a unique, non-empty custom_id");

    public static InputException AnthropicCustomId(string file, long line, string value) =>
        new($"custom_id '{value}' is not accepted by Anthropic: 1 to 64 letters, digits, '-' or '_'", file: file, row: line, field: "custom_id",
            hint: "Rename it (the results are matched back by custom_id)");

    public static InputException DuplicateCustomId(string file, long line, string value, long firstLine) =>
        new($"custom_id '{value}' is already used on line {Number(firstLine)}", file: file, row: line, field: "custom_id",
            hint: "Every request needs its own custom_id: the results are matched back by it");

    public static InputException Method(string file, long line, string method) =>
        new($"method is '{method}'; the Batch API sends only POST requests", file: file, row: line, field: "method", hint: "Write \"method\": \"POST\"");

    public static InputException UnsupportedUrl(string file, long line, string url) =>
        new($"url '{url}' is not an endpoint of the OpenAI Batch API", file: file, row: line, field: "url",
            hint: "Use one of " + string.Join(", ", BatchFile.OpenAIEndpoints));

    public static InputException MixedUrl(string file, long line, string url, string firstUrl, long firstLine) =>
        new($"url is '{url}' but line {Number(firstLine)} uses '{firstUrl}'; an OpenAI batch sends every request to one endpoint", file: file, row: line, field: "url",
            hint: "Split the file by url and submit each part on its own");

    public static InputException MixedModel(string file, long line, string model, string firstModel, long firstLine) =>
        new($"the model is {Describe(model)} but line {Number(firstLine)} uses {Describe(firstModel)}; an OpenAI batch file holds requests to one model", file: file, row: line, field: "body.model",
            hint: "Split the file by model and submit each part on its own");

    public static InputException MaxTokens(string file, long line, bool missing) =>
        new(missing ? "params.max_tokens is missing; Anthropic requires it" : "params.max_tokens must be a whole number of at least 1", file: file, row: line, field: "params.max_tokens",
            hint: "Write \"max_tokens\": 1024 (the most output tokens to allow) in params");

    public static InputException Stream(string file, long line, bool anthropic) =>
        new("stream is true; batch requests cannot stream", file: file, row: line, field: BodyKey(anthropic) + ".stream", hint: "Remove \"stream\": true");

    public static InputException TooLarge(string file, long line, long size, long limit) =>
        new($"this request is {Number(size)} bytes, more than a whole batch may hold ({Number(limit)} bytes)", file: file, row: line,
            hint: "Shorten it: no batch can carry it");

    public static InputException Summary(string file, int count, bool more) =>
        new(more ? $"the file has more than {Number(count)} problems (the first {Number(count)} are listed above); nothing was sent" : $"the file has {Number(count)} problems (listed above); nothing was sent",
            file: file, hint: "Fix them and run the same command again");

    private static string Describe(string model) => model.Length == 0 ? "not given" : $"'{model}'";

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOfAny(['.', '\n']);
        var reason = (cut > 0 ? message[..cut] : message).Trim();
        return reason.Length > 1 && char.IsUpper(reason[0]) && char.IsLower(reason[1]) ? char.ToLowerInvariant(reason[0]) + reason[1..] : reason;
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
