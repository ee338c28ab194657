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

    /// <summary>Input tokens of a request: its system message (if any), its prior turns (few-shot examples) and user message.</summary>
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
        return CountChat(request.Model, messages, provider);
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
