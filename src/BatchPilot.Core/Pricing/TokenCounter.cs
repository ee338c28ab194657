using BatchPilot.Providers;
using Microsoft.ML.Tokenizers;

namespace BatchPilot.Pricing;

/// <summary>How a token count was obtained.</summary>
public enum TokenCountBasis
{
    /// <summary>The model's own tokenizer (OpenAI tiktoken encodings): the count the provider will report.</summary>
    Exact,

    /// <summary>
    /// An estimate: Anthropic publishes no offline tokenizer, and an OpenAI-compatible model we do not know may use
    /// another vocabulary.
    /// </summary>
    Estimate,

    /// <summary>The provider's own count, one call per request (Anthropic's <c>count_tokens</c> endpoint): exact.</summary>
    CountTokens,
}

/// <summary>
/// Counts input tokens of a request offline.
/// <list type="bullet">
/// <item>OpenAI: the real tiktoken encoding (Microsoft.ML.Tokenizers with its data packages): <c>o200k_base</c> for
/// gpt-4o, gpt-4.1, gpt-5, chatgpt-4o and the o-series; <c>cl100k_base</c> for gpt-4 and gpt-3.5. Chat framing is
/// counted as OpenAI's cookbook does (<c>num_tokens_from_messages</c>): 3 tokens per message, plus the tokens of its
/// role and content, plus 3 for the reply priming (<c>&lt;|start|&gt;assistant&lt;|message|&gt;</c>). Other
/// OpenAI-compatible model ids are counted with <c>o200k_base</c> and flagged as an estimate.</item>
/// <item>Anthropic: no public offline tokenizer exists (the count_tokens endpoint needs a key and the network), so the
/// estimate is the <c>cl100k_base</c> count of the same framed messages × 1.1, rounded up; Claude's tokenizer
/// produces somewhat more tokens than cl100k on English text, so this errs on the high side.</item>
/// </list>
/// Thread-safe; the encodings load once per process.
/// </summary>
public static class TokenCounter
{
    /// <summary>Tokens OpenAI adds around each chat message.</summary>
    public const int TokensPerMessage = 3;

    /// <summary>Tokens OpenAI adds to prime the assistant's reply.</summary>
    public const int ReplyPrimingTokens = 3;

    /// <summary>Factor applied to the cl100k_base count to estimate Anthropic tokens.</summary>
    public const double AnthropicFactor = 1.1;

    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100k = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    /// <summary>The tiktoken encoding name used for a model: <c>o200k_base</c> or <c>cl100k_base</c>.</summary>
    public static string EncodingFor(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var m = model.Trim().ToLowerInvariant();
        if (m.StartsWith("claude", StringComparison.Ordinal))
        {
            return "cl100k_base";
        }

        if (m.StartsWith("gpt-4o", StringComparison.Ordinal) || m.StartsWith("gpt-4.1", StringComparison.Ordinal) || m.StartsWith("gpt-4.5", StringComparison.Ordinal)
            || m.StartsWith("gpt-5", StringComparison.Ordinal) || m.StartsWith("chatgpt-4o", StringComparison.Ordinal) || IsOSeries(m))
        {
            return "o200k_base";
        }

        if (m.StartsWith("gpt-4", StringComparison.Ordinal) || m.StartsWith("gpt-3.5", StringComparison.Ordinal) || m.StartsWith("gpt-35", StringComparison.Ordinal))
        {
            return "cl100k_base";
        }

        return "o200k_base";
    }

    /// <summary>Whether counts for a model are exact (a known OpenAI model) or an estimate.</summary>
    public static TokenCountBasis BasisFor(string model, string? provider = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if ((provider ?? ProviderNames.FromModel(model)) == ProviderNames.Anthropic)
        {
            return TokenCountBasis.Estimate;
        }

        var m = model.Trim().ToLowerInvariant();
        return m.StartsWith("gpt-", StringComparison.Ordinal) || m.StartsWith("chatgpt-", StringComparison.Ordinal) || IsOSeries(m)
            ? TokenCountBasis.Exact
            : TokenCountBasis.Estimate;
    }

    /// <summary>Tokens of a plain text in an encoding (<c>o200k_base</c> or <c>cl100k_base</c>), without any framing.</summary>
    /// <exception cref="ArgumentException">An encoding other than the two supported.</exception>
    public static int CountText(string text, string encoding)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TokenizerOf(encoding).CountTokens(text);
    }

    /// <summary>
    /// Input tokens of a chat: for OpenAI the framed count described on <see cref="TokenCounter"/>; for Anthropic the
    /// documented estimate.
    /// </summary>
    /// <param name="model">The model id.</param>
    /// <param name="messages">(role, content) pairs in order.</param>
    /// <param name="provider">The provider (default: from the model name).</param>
    public static long CountChat(string model, IEnumerable<(string Role, string Content)> messages, string? provider = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(messages);
        var anthropic = (provider ?? ProviderNames.FromModel(model)) == ProviderNames.Anthropic;
        var tokenizer = TokenizerOf(anthropic ? "cl100k_base" : EncodingFor(model));
        long n = ReplyPrimingTokens;
        foreach (var (role, content) in messages)
        {
            n += TokensPerMessage + tokenizer.CountTokens(role) + tokenizer.CountTokens(content ?? string.Empty);
        }

        return anthropic ? (long)Math.Ceiling(n * AnthropicFactor) : n;
    }

    /// <summary>
    /// Input tokens of a request: its system message (if any), its prior turns (few-shot examples) and user message,
    /// plus its images (<see cref="CountImage"/>) and its answer schema (<see cref="CountSchema"/>).
    /// </summary>
    public static long CountRequest(LlmRequest request, string? provider = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        var messages = new List<(string Role, string Content)>(request.PriorTurns.Count + 2);
        if (request.System is not null)
        {
            messages.Add(("system", request.System));
        }

        messages.AddRange(request.PriorTurns.Select(t => (t.Role, t.Text)));
        messages.Add(("user", request.UserText));
        var n = CountChat(request.Model, messages, provider);
        foreach (var image in request.Images)
        {
            n += CountImage(request.Model, image.Width, image.Height, provider);
        }

        if (request.ResponseFormat is { } format)
        {
            n += CountSchema(request.Model, format, provider);
        }

        return n;
    }

    /// <summary>Tokens Anthropic adds as a system prompt when a tool is forced (<c>tool_choice</c> <c>tool</c>).</summary>
    public const int AnthropicToolChoiceTokens = 346;

    /// <summary>Pixel size assumed for an image whose size is unknown (a URL, which is never downloaded to estimate).</summary>
    public const int AssumedImageSide = 1024;

    /// <summary>
    /// Input tokens of one image by the providers' published rules, from its pixel size (read from the file header;
    /// <see cref="AssumedImageSide"/> square when unknown). OpenAI, detail <c>auto</c>/<c>high</c>: tile models scale the
    /// image to fit 2048×2048, then its short side down to 768, and count base + per-tile tokens for each 512-px tile
    /// (gpt-4o, gpt-4.1, gpt-4.5: 85 + 170; gpt-4o-mini: 2833 + 5667; gpt-5: 70 + 140; o1, o3: 75 + 150); patch models
    /// (gpt-4.1-mini, gpt-4.1-nano, gpt-5-mini, gpt-5-nano, o4-mini) count 32-px patches, at most 1536, times their
    /// multiplier (1.62, 2.46, 1.62, 2.46, 1.72). Anthropic: the long side is scaled down to 1568 px, then
    /// width × height / 750 tokens, at most 1600.
    /// </summary>
    public static long CountImage(string model, int? width, int? height, string? provider = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        double w = width is > 0 ? width.Value : AssumedImageSide;
        double h = height is > 0 ? height.Value : AssumedImageSide;
        if ((provider ?? ProviderNames.FromModel(model)) == ProviderNames.Anthropic)
        {
            var longSide = Math.Max(w, h);
            if (longSide > 1568)
            {
                w = w * 1568 / longSide;
                h = h * 1568 / longSide;
            }

            return Math.Min(1600, (long)Math.Ceiling(Math.Round(w) * Math.Round(h) / 750));
        }

        var m = model.Trim().ToLowerInvariant();
        double? patchMultiplier = m switch
        {
            _ when m.StartsWith("gpt-4.1-mini", StringComparison.Ordinal) || m.StartsWith("gpt-5-mini", StringComparison.Ordinal) => 1.62,
            _ when m.StartsWith("gpt-4.1-nano", StringComparison.Ordinal) || m.StartsWith("gpt-5-nano", StringComparison.Ordinal) => 2.46,
            _ when m.StartsWith("o4-mini", StringComparison.Ordinal) => 1.72,
            _ => null,
        };
        if (patchMultiplier is { } multiplier)
        {
            var patches = Math.Ceiling(w / 32) * Math.Ceiling(h / 32);
            if (patches > 1536)
            {
                var shrink = Math.Sqrt(1536 * 32.0 * 32.0 / (w * h));
                patches = Math.Min(1536, Math.Ceiling(w * shrink / 32) * Math.Ceiling(h * shrink / 32));
            }

            return (long)Math.Ceiling(patches * multiplier);
        }

        var (baseTokens, tileTokens) = m switch
        {
            _ when m.StartsWith("gpt-4o-mini", StringComparison.Ordinal) => (2833, 5667),
            _ when m.StartsWith("gpt-5", StringComparison.Ordinal) => (70, 140),
            _ when m.StartsWith("o1", StringComparison.Ordinal) || m.StartsWith("o3", StringComparison.Ordinal) => (75, 150),
            _ => (85, 170),
        };
        var fit = Math.Min(1, 2048 / Math.Max(w, h));
        w *= fit;
        h *= fit;
        var shortSide = Math.Min(w, h);
        if (shortSide > 768)
        {
            w = w * 768 / shortSide;
            h = h * 768 / shortSide;
        }

        var tiles = (long)(Math.Ceiling(Math.Round(w) / 512) * Math.Ceiling(Math.Round(h) / 512));
        return baseTokens + tileTokens * tiles;
    }

    /// <summary>
    /// Input tokens of an answer schema: the tokens of its name and JSON text (both providers turn it into prompt
    /// text), plus for Anthropic the documented system prompt of a forced tool (<see cref="AnthropicToolChoiceTokens"/>).
    /// An estimate: the providers do not publish how the schema is framed.
    /// </summary>
    public static long CountSchema(string model, ResponseFormat format, string? provider = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(format);
        var anthropic = (provider ?? ProviderNames.FromModel(model)) == ProviderNames.Anthropic;
        var tokenizer = TokenizerOf(anthropic ? "cl100k_base" : EncodingFor(model));
        long n = tokenizer.CountTokens(format.Name) + tokenizer.CountTokens(format.SchemaJson);
        return anthropic ? (long)Math.Ceiling(n * AnthropicFactor) + AnthropicToolChoiceTokens : n;
    }

    private static bool IsOSeries(string m) =>
        m.Length >= 2 && m[0] == 'o' && char.IsAsciiDigit(m[1]);

    private static Tokenizer TokenizerOf(string encoding) => encoding switch
    {
        "o200k_base" => O200k.Value,
        "cl100k_base" => Cl100k.Value,
        _ => throw new ArgumentException($"unsupported encoding '{encoding}' (o200k_base or cl100k_base)", nameof(encoding)),
    };
}
