using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Unicode;
using BatchPilot.Errors;
using BatchPilot.Inputs.Internal;
using BatchPilot.Providers;

namespace BatchPilot.Inputs.BatchFiles;

/// <summary>Settings of <see cref="BatchFile.Validate"/>.</summary>
public sealed record BatchFileOptions
{
    /// <summary><c>openai</c> or <c>anthropic</c>; null detects the format from the content.</summary>
    public string? Format { get; init; }

    /// <summary>The per-batch limits a request must fit in; null for the provider's own (<see cref="ProviderNames.LimitsOf"/>).</summary>
    public ProviderLimits? Limits { get; init; }

    /// <summary>How many problems are collected before the check stops.</summary>
    public int MaxProblems { get; init; } = 10;
}

/// <summary>What <see cref="BatchFile.Validate"/> found in a batch file.</summary>
public sealed record BatchFileInfo
{
    /// <summary>The file, as the user named it.</summary>
    public required string Path { get; init; }

    /// <summary>The provider whose format the file is in (<see cref="ProviderNames"/>).</summary>
    public required string Provider { get; init; }

    /// <summary>True for an Anthropic create body <c>{"requests": [...]}</c>, false for one request per line.</summary>
    public bool IsRequestsBody { get; init; }

    /// <summary>OpenAI: the endpoint of every line (<c>url</c>); null for Anthropic.</summary>
    public string? Url { get; init; }

    /// <summary>The models of the requests in order of first use (an empty string for a request that names none).</summary>
    public required IReadOnlyList<string> Models { get; init; }

    /// <summary>Number of requests.</summary>
    public long Requests { get; init; }

    /// <summary>Bytes of the requests' JSON text, one line each.</summary>
    public long Bytes { get; init; }

    /// <summary>Problems found, in file order, each one line naming the file, line and field; empty when the file is usable.</summary>
    public required IReadOnlyList<InputException> Problems { get; init; }

    /// <summary>True when the check stopped at <see cref="BatchFileOptions.MaxProblems"/> with more problems left.</summary>
    public bool MoreProblems { get; init; }

    /// <summary>The model as a job shows it: the one model, or the models joined with commas (Anthropic may mix models).</summary>
    public string ModelLabel =>
        Models.Count == 0 ? "unknown"
        : Models.Count <= 3 ? string.Join(", ", Models.Select(m => m.Length == 0 ? "(default)" : m))
        : string.Join(", ", Models.Take(3)) + $" and {Models.Count - 3} more";
}

/// <summary>One request of a batch file.</summary>
/// <param name="Line">The 1-based line it starts on.</param>
/// <param name="CustomId">Its custom id, as written.</param>
/// <param name="Body">Its body (OpenAI <c>body</c>, Anthropic <c>params</c>) as JSON text exactly as in the file.</param>
public readonly record struct BatchFileRequest(long Line, string CustomId, string Body);

/// <summary>
/// Reads OpenAI-format batch files (one <c>{"custom_id", "method", "url", "body"}</c> per line) and Anthropic request files
/// (one <c>{"custom_id", "params"}</c> per line, or a create body <c>{"requests": [...]}</c>), streaming: memory holds one
/// request whatever the file's size. <see cref="Validate"/> checks every request as the provider would, without sending
/// anything; <see cref="ReadRequests"/> then hands out each request's body byte for byte.
/// </summary>
public static partial class BatchFile
{
    /// <summary>The endpoints the OpenAI Batch API accepts (a line's <c>url</c>, the batch's <c>endpoint</c>).</summary>
    public static readonly IReadOnlyList<string> OpenAIEndpoints =
    [
        "/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions", "/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos",
    ];

    /// <summary>Endpoints whose bodies must name a model (the others have a default one).</summary>
    private static readonly HashSet<string> ModelRequired = ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions"];

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex AnthropicCustomId();

    /// <summary>Reads a <c>--format</c> value: <c>openai</c>, <c>anthropic</c>, or null (detect).</summary>
    /// <exception cref="InputException">Another value.</exception>
    public static string? ParseFormat(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        ProviderNames.OpenAI => ProviderNames.OpenAI,
        ProviderNames.Anthropic => ProviderNames.Anthropic,
        _ => throw BatchFileErrors.BadFormat(value),
    };

    /// <summary>
    /// The error that ends a command for a file with problems: the problem itself when there is one, else a line that
    /// counts them (each problem having been shown on its own line).
    /// </summary>
    public static InputException ProblemsError(BatchFileInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.Problems.Count == 1 && !info.MoreProblems
            ? info.Problems[0]
            : BatchFileErrors.Summary(info.Path, info.Problems.Count, info.MoreProblems);
    }

    /// <summary>Checks every request of a batch file, streaming, and says what the file holds.</summary>
    /// <param name="path">The file, as the user named it.</param>
    /// <param name="options">Format override, limits, how many problems to collect.</param>
    /// <param name="cancellationToken">Stops the check.</param>
    /// <returns>The file's format, endpoint, models and counts, and its problems (empty when the file can be sent).</returns>
    /// <exception cref="InputException">The file cannot be read at all: missing, empty, binary, not UTF-8 text, not a batch file, or broken JSON structure.</exception>
    public static BatchFileInfo Validate(string path, BatchFileOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new BatchFileOptions();
        if (path == "-")
        {
            throw BatchFileErrors.StandardInput(InputErrors.StdinName);
        }

        var format = ParseFormat(options.Format);
        using var file = InputFile.Open(path);
        if (file.IsStandardInput)
        {
            throw BatchFileErrors.StandardInput(path);
        }

        var sniff = file.Sniff(encoding: null, jsonl: true);
        if (sniff.Encoding is not null)
        {
            throw BatchFileErrors.NotUtf8Encoding(path);
        }

        var body = IsRequestsBody(file.Stream);
        if (body && format == ProviderNames.OpenAI)
        {
            throw BatchFileErrors.BodyForOpenAI(path);
        }

        if (format is null && sniff.Head.TrimStart(' ', '\t', '\r', '\n', '\uFEFF').StartsWith('['))
        {
            // A JSON array of requests (one line or pretty-printed) is neither format.
            throw BatchFileErrors.BodyNotAnObject(path, "an array");
        }

        var provider = body ? ProviderNames.Anthropic : format ?? Detect(file.Stream, path) ?? throw BatchFileErrors.UnknownFormat(path);
        var checker = new Checker(path, provider == ProviderNames.Anthropic, options.Limits ?? ProviderNames.LimitsOf(provider), Math.Max(1, options.MaxProblems));
        file.Stream.Position = 0;
        var source = Source(file.Stream, path, body);
        while (!checker.Stopped && source.TryNext(out var request, out var line))
        {
            cancellationToken.ThrowIfCancellationRequested();
            checker.Check(request, line);
        }

        if (checker.Count == 0 && checker.Problems.Count == 0)
        {
            throw BatchFileErrors.NoRequests(path);
        }

        return new BatchFileInfo
        {
            Path = path,
            Provider = provider,
            IsRequestsBody = body,
            Url = checker.Url,
            Models = checker.Models,
            Requests = checker.Count,
            Bytes = checker.Bytes,
            Problems = checker.Problems,
            MoreProblems = checker.Stopped,
        };
    }

    /// <summary>Streams the requests of a file that <see cref="Validate"/> found usable, in file order.</summary>
    /// <exception cref="InputException">The file changed since it was validated, or cannot be read.</exception>
    public static IEnumerable<BatchFileRequest> ReadRequests(BatchFileInfo info, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(info);
        return Iterate();

        IEnumerable<BatchFileRequest> Iterate()
        {
            using var stream = InputFile.OpenStream(info.Path);
            var source = Source(stream, info.Path, info.IsRequestsBody);
            var anthropic = info.Provider == ProviderNames.Anthropic;
            while (Next(source, anthropic, info.Path) is { } request)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return request;
            }
        }
    }

    private static BatchFileRequest? Next(IRequestSource source, bool anthropic, string path)
    {
        if (!source.TryNext(out var json, out var line))
        {
            return null;
        }

        try
        {
            var r = RequestParser.Parse(json, anthropic, out var notObject);
            if (notObject is null && r.CustomId is { Length: > 0 } id && r.BodyToken == JsonTokenType.StartObject)
            {
                return new BatchFileRequest(line, id, RequestParser.BodyText(json, r));
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
        }

        throw BatchFileErrors.ChangedWhileReading(path, line);
    }

    private static IRequestSource Source(Stream stream, string path, bool body) =>
        body ? new RequestsBody(stream, path) : new JsonlRequests(stream, path);

    /// <summary>Whether the file is one JSON object whose first key is <c>requests</c> (an Anthropic create body).</summary>
    private static bool IsRequestsBody(Stream stream)
    {
        stream.Position = 0;
        var head = new byte[Limits.BufferSize];
        var count = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        var bytes = head.AsSpan(0, count);
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            bytes = bytes[3..];
        }

        var reader = new Utf8JsonReader(bytes, isFinalBlock: false, state: default);
        try
        {
            return reader.Read() && reader.TokenType == JsonTokenType.StartObject
                && reader.Read() && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("requests"u8);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The format of the first line that is an object naming <c>params</c> (Anthropic) or <c>method</c>/<c>url</c>/<c>body</c> (OpenAI).</summary>
    private static string? Detect(Stream stream, string path)
    {
        stream.Position = 0;
        var lines = new JsonlRequests(stream, path);
        try
        {
            while (lines.TryNext(out var line, out _))
            {
                if (DetectLine(line) is { } found)
                {
                    return found;
                }
            }

            return null;
        }
        finally
        {
            stream.Position = 0;
        }
    }

    private static string? DetectLine(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line, RequestParser.Options);
        bool openAI = false, anthropic = false, body = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                anthropic |= reader.ValueTextEquals("params"u8);
                body |= reader.ValueTextEquals("body"u8);
                openAI |= reader.ValueTextEquals("method"u8) || reader.ValueTextEquals("url"u8);
                reader.Read();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            return null;
        }

        // "params" names Anthropic even beside a stray OpenAI key; a line with both bodies decides nothing.
        return (anthropic, body || openAI) switch
        {
            (true, _) when !body => ProviderNames.Anthropic,
            (false, true) => ProviderNames.OpenAI,
            _ => null,
        };
    }

    /// <summary>The checks of one file, request after request, with what they need to remember (ids, endpoint, model).</summary>
    private sealed class Checker(string path, bool anthropic, ProviderLimits limits, int maxProblems)
    {
        private readonly Dictionary<string, long> _ids = new(StringComparer.Ordinal);
        private readonly List<string> _models = [];
        private readonly List<InputException> _problems = [];
        private long _urlLine;
        private string? _firstModel;
        private long _modelLine;

        public string? Url { get; private set; }

        public IReadOnlyList<string> Models => _models;

        public IReadOnlyList<InputException> Problems => _problems;

        public long Count { get; private set; }

        public long Bytes { get; private set; }

        /// <summary>True once a problem beyond the limit was found: the check ends there.</summary>
        public bool Stopped { get; private set; }

        private void Problem(InputException problem)
        {
            if (_problems.Count < maxProblems)
            {
                _problems.Add(problem);
            }
            else
            {
                Stopped = true;
            }
        }

        public void Check(ReadOnlySpan<byte> json, long line)
        {
            Count++;
            Bytes += json.Length + 1;
            if (!Utf8.IsValid(json))
            {
                Problem(BatchFileErrors.NotUtf8(path, line, json));
                return;
            }

            ParsedRequest r;
            try
            {
                r = RequestParser.Parse(json, anthropic, out var notObject);
                if (notObject is not null)
                {
                    Problem(BatchFileErrors.NotAnObject(path, line, notObject, anthropic));
                    return;
                }
            }
            catch (JsonException ex)
            {
                Problem(BatchFileErrors.InvalidJson(path, line, JsonlSource.LineParser.Detail(ex, json), anthropic));
                return;
            }
            catch (InvalidOperationException)
            {
                Problem(BatchFileErrors.InvalidJson(path, line, "a string holds an invalid \\u escape", anthropic));
                return;
            }

            if (r.DuplicateKey is { } duplicate)
            {
                Problem(BatchFileErrors.DuplicateKey(path, line, duplicate));
            }

            if (r.UnknownKey is { } unknown)
            {
                Problem(BatchFileErrors.UnknownKey(path, line, unknown, anthropic));
            }

            CheckCustomId(r, line);
            if (!anthropic)
            {
                CheckMethodAndUrl(r, line);
            }

            CheckBody(r, line);
            if (json.Length + 1 > limits.MaxBytes)
            {
                Problem(BatchFileErrors.TooLarge(path, line, json.Length + 1, limits.MaxBytes));
            }
        }

        private void CheckCustomId(in ParsedRequest r, long line)
        {
            if (r.CustomIdToken == JsonTokenType.None)
            {
                Problem(BatchFileErrors.Missing(path, line, "custom_id", anthropic));
            }
            else if (r.CustomId is not { } id)
            {
                Problem(BatchFileErrors.WrongType(path, line, "custom_id", "a string", r.CustomIdToken));
            }
            else if (id.Length == 0)
            {
                Problem(BatchFileErrors.EmptyCustomId(path, line));
            }
            else if (anthropic && !AnthropicCustomId().IsMatch(id))
            {
                Problem(BatchFileErrors.AnthropicCustomId(path, line, id));
            }
            else if (!_ids.TryAdd(id, line))
            {
                Problem(BatchFileErrors.DuplicateCustomId(path, line, id, _ids[id]));
            }
        }

        private void CheckMethodAndUrl(in ParsedRequest r, long line)
        {
            if (r.MethodToken == JsonTokenType.None)
            {
                Problem(BatchFileErrors.Missing(path, line, "method", anthropic));
            }
            else if (r.Method is null)
            {
                Problem(BatchFileErrors.WrongType(path, line, "method", "a string", r.MethodToken));
            }
            else if (r.Method != "POST")
            {
                Problem(BatchFileErrors.Method(path, line, r.Method));
            }

            if (r.UrlToken == JsonTokenType.None)
            {
                Problem(BatchFileErrors.Missing(path, line, "url", anthropic));
            }
            else if (r.Url is not { } url)
            {
                Problem(BatchFileErrors.WrongType(path, line, "url", "a string", r.UrlToken));
            }
            else if (!OpenAIEndpoints.Contains(url, StringComparer.Ordinal))
            {
                Problem(BatchFileErrors.UnsupportedUrl(path, line, url));
            }
            else if (Url is null)
            {
                Url = url;
                _urlLine = line;
            }
            else if (url != Url)
            {
                Problem(BatchFileErrors.MixedUrl(path, line, url, Url, _urlLine));
            }
        }

        private void CheckBody(in ParsedRequest r, long line)
        {
            var key = anthropic ? "params" : "body";
            if (r.BodyToken == JsonTokenType.None)
            {
                Problem(BatchFileErrors.Missing(path, line, key, anthropic));
                return;
            }

            if (r.BodyToken != JsonTokenType.StartObject)
            {
                Problem(BatchFileErrors.WrongType(path, line, key, "an object", r.BodyToken));
                return;
            }

            var modelRequired = anthropic || r.Url is null || ModelRequired.Contains(r.Url);
            if (r.ModelToken == JsonTokenType.None && modelRequired)
            {
                Problem(BatchFileErrors.Missing(path, line, key + ".model", anthropic));
            }
            else if (r.ModelToken != JsonTokenType.None && r.Model is null)
            {
                Problem(BatchFileErrors.WrongType(path, line, key + ".model", "a string", r.ModelToken));
            }
            else
            {
                NoteModel(r.Model ?? string.Empty, line);
            }

            if (r.Stream)
            {
                Problem(BatchFileErrors.Stream(path, line, anthropic));
            }

            if (!anthropic)
            {
                return;
            }

            if (r.MaxTokensToken == JsonTokenType.None || r.MaxTokens is not >= 1)
            {
                Problem(BatchFileErrors.MaxTokens(path, line, missing: r.MaxTokensToken == JsonTokenType.None));
            }

            if (r.MessagesToken == JsonTokenType.None)
            {
                Problem(BatchFileErrors.Missing(path, line, "params.messages", anthropic));
            }
            else if (r.MessagesToken != JsonTokenType.StartArray)
            {
                Problem(BatchFileErrors.WrongType(path, line, "params.messages", "an array", r.MessagesToken));
            }
        }

        /// <summary>OpenAI batches hold one model (the real API fails a file that mixes them); Anthropic batches may mix models.</summary>
        private void NoteModel(string model, long line)
        {
            if (_firstModel is null)
            {
                _firstModel = model;
                _modelLine = line;
                _models.Add(model);
            }
            else if (model != _firstModel)
            {
                if (!anthropic)
                {
                    Problem(BatchFileErrors.MixedModel(path, line, model, _firstModel, _modelLine));
                }
                else if (_models.Count < 100 && !_models.Contains(model, StringComparer.Ordinal))
                {
                    _models.Add(model);
                }
            }
        }
    }
}
