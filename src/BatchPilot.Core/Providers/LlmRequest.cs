namespace BatchPilot.Providers;

/// <summary>A provider-neutral request: one user turn with an optional system prompt and optional prior turns (few-shot examples).</summary>
public sealed record LlmRequest
{
    /// <summary>Model id as the provider knows it.</summary>
    public required string Model { get; init; }

    /// <summary>System prompt, if any.</summary>
    public string? System { get; init; }

    /// <summary>Prior turns sent before the user message, e.g. few-shot examples as user/assistant pairs. Empty by default.</summary>
    public IReadOnlyList<ChatTurn> PriorTurns { get; init; } = [];

    /// <summary>The user message text.</summary>
    public required string UserText { get; init; }

    /// <summary>Maximum output tokens. Anthropic requires one; a default is used when null.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Sampling temperature.</summary>
    public double? Temperature { get; init; }

    /// <summary>
    /// A provider request body (JSON text) to send byte for byte instead of one built from the other fields: the requests
    /// of a raw batch file. The body writers ignore every other field when it is set.
    /// </summary>
    public string? RawBody { get; init; }

    /// <summary>Images sent with the user message (vision input), in column order. Empty by default.</summary>
    public IReadOnlyList<ImagePart> Images { get; init; } = [];

    /// <summary>
    /// The JSON schema the answer must follow (OpenAI <c>response_format</c> json_schema, Anthropic one forced tool), or
    /// null for a free-text answer.
    /// </summary>
    public ResponseFormat? ResponseFormat { get; init; }
}

/// <summary>Where an image comes from.</summary>
public enum ImageSourceKind
{
    /// <summary>An http(s) URL, sent as a URL: the provider fetches it.</summary>
    Url,

    /// <summary>A <c>data:</c> URL holding base64 bytes, passed through.</summary>
    DataUrl,

    /// <summary>A local file, read when the request is written and sent as base64.</summary>
    File,
}

/// <summary>One image of a request. A local file is only named here: its bytes are read when the body is written.</summary>
public sealed record ImagePart
{
    /// <summary>Where the image comes from.</summary>
    public required ImageSourceKind Kind { get; init; }

    /// <summary>The URL, the data URL, or the absolute path of the file.</summary>
    public required string Value { get; init; }

    /// <summary>The media type (<c>image/png</c>, <c>image/jpeg</c>, <c>image/gif</c>, <c>image/webp</c>); null for a URL.</summary>
    public string? MediaType { get; init; }

    /// <summary>Image bytes (the file size, or the decoded size of a data URL); 0 for a URL.</summary>
    public long Length { get; init; }

    /// <summary>Pixel width read from the image header, when known.</summary>
    public int? Width { get; init; }

    /// <summary>Pixel height read from the image header, when known.</summary>
    public int? Height { get; init; }

    /// <summary>Characters of the base64 text of <see cref="Length"/> bytes.</summary>
    public long Base64Length => (Length + 2) / 3 * 4;
}

/// <summary>A JSON schema the answer must follow.</summary>
/// <param name="Name">The schema's name as sent (letters, digits, <c>_</c> and <c>-</c>, at most 64).</param>
/// <param name="SchemaJson">The schema, as compact JSON text.</param>
public sealed record ResponseFormat(string Name, string SchemaJson);

/// <summary>One earlier message of a conversation.</summary>
/// <param name="Role"><c>user</c> or <c>assistant</c>.</param>
/// <param name="Text">The message text.</param>
public readonly record struct ChatTurn(string Role, string Text)
{
    /// <summary>The user role.</summary>
    public const string User = "user";

    /// <summary>The assistant role.</summary>
    public const string Assistant = "assistant";
}

/// <summary>One request with its provider-facing id.</summary>
/// <param name="CustomId">The custom id (stable across attempts).</param>
/// <param name="Request">What to send.</param>
public readonly record struct IdentifiedRequest(string CustomId, LlmRequest Request);

/// <summary>Per-batch limits of a provider.</summary>
/// <param name="MaxRequests">Most requests per batch.</param>
/// <param name="MaxBytes">Most bytes per batch input file or body.</param>
public readonly record struct ProviderLimits(int MaxRequests, long MaxBytes);

/// <summary>Well-known provider names and their rules.</summary>
public static class ProviderNames
{
    /// <summary>OpenAI (and compatible servers).</summary>
    public const string OpenAI = "openai";

    /// <summary>Anthropic.</summary>
    public const string Anthropic = "anthropic";

    /// <summary>OpenRouter: OpenAI-compatible synchronous API for <c>vendor/model</c> ids; no batch API is used.</summary>
    public const string OpenRouter = "openrouter";

    /// <summary>Azure OpenAI: the model id is the deployment name; synchronous API only here.</summary>
    public const string Azure = "azure";

    /// <summary>Every provider name, in the order they are listed to users.</summary>
    public static readonly IReadOnlyList<string> All = [OpenAI, Anthropic, OpenRouter, Azure];

    /// <summary>OpenAI Batch: 50,000 requests and 200 MB per input file.</summary>
    public static readonly ProviderLimits OpenAILimits = new(50_000, 200L * 1024 * 1024);

    /// <summary>Anthropic Message Batches: 100,000 requests or 256 MB.</summary>
    public static readonly ProviderLimits AnthropicLimits = new(100_000, 256L * 1024 * 1024);

    /// <summary>
    /// Picks the provider from a model id: <c>claude*</c> is Anthropic, a <c>vendor/model</c> id is OpenRouter, anything
    /// else OpenAI. Azure is never inferred (its model ids are deployment names).
    /// </summary>
    public static string FromModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.StartsWith("claude", StringComparison.OrdinalIgnoreCase))
        {
            return Anthropic;
        }

        return model.Contains('/', StringComparison.Ordinal) ? OpenRouter : OpenAI;
    }

    /// <summary>True for the providers whose wire format is OpenAI's (chat completions, OpenAI error bodies and headers).</summary>
    public static bool SpeaksOpenAI(string provider) => provider is OpenAI or OpenRouter or Azure;

    /// <summary>True for the providers whose batch API BatchPilot uses (OpenAI Batch, Anthropic Message Batches).</summary>
    public static bool HasBatchApi(string provider) => provider is OpenAI or Anthropic;

    /// <summary>
    /// True when <paramref name="model"/> has OpenRouter's <c>vendor/model</c> shape: a lower-case vendor (letters, digits,
    /// <c>-</c>, <c>_</c>, <c>.</c>), one <c>/</c>, and a model name (letters, digits, <c>-</c>, <c>_</c>, <c>.</c>, and
    /// <c>:</c> for variants such as <c>:free</c>), e.g. <c>openai/gpt-4o-mini</c> or <c>meta-llama/llama-3.1-8b-instruct:free</c>.
    /// </summary>
    public static bool IsOpenRouterModelId(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var slash = model.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == model.Length - 1 || model.IndexOf('/', slash + 1) >= 0)
        {
            return false;
        }

        for (var i = 0; i < model.Length; i++)
        {
            var c = model[i];
            var ok = i < slash
                ? char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.'
                : i == slash || char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':';
            if (!ok)
            {
                return false;
            }
        }

        return char.IsAsciiLetterOrDigit(model[0]) && char.IsAsciiLetterOrDigit(model[slash + 1]);
    }

    /// <summary>The limits of a provider.</summary>
    public static ProviderLimits LimitsOf(string provider) =>
        provider == Anthropic ? AnthropicLimits : OpenAILimits;
}
