using BatchPilot.Pricing;
using BatchPilot.Providers;

namespace BatchPilot.Core.Tests.Pricing;

/// <summary>
/// Token counts against published reference values, as literal numbers:
/// "hello world" is 2 tokens in both o200k_base and cl100k_base (tiktoken README: <c>enc.encode("hello world")</c>
/// round-trips as two tokens); "tiktoken is great!" is 6 tokens in cl100k_base (OpenAI cookbook "How to count tokens
/// with tiktoken", <c>num_tokens_from_string("tiktoken is great!", "cl100k_base")</c> → 6); "user" is 1 token.
/// </summary>
public sealed class TokenCounterTests
{
    [Theory]
    [InlineData("hello world", "o200k_base", 2)]
    [InlineData("hello world", "cl100k_base", 2)]
    [InlineData("tiktoken is great!", "cl100k_base", 6)]
    [InlineData("user", "o200k_base", 1)]
    [InlineData("user", "cl100k_base", 1)]
    [InlineData("", "o200k_base", 0)]
    public void CountText_KnownSamples_MatchTheReferenceTokenizer(string text, string encoding, int expected)
    {
        Assert.Equal(expected, TokenCounter.CountText(text, encoding));
    }

    [Theory]
    [InlineData("gpt-4o-mini", "o200k_base")]
    [InlineData("gpt-4o-2024-08-06", "o200k_base")]
    [InlineData("gpt-4.1-nano", "o200k_base")]
    [InlineData("gpt-5-mini", "o200k_base")]
    [InlineData("o3-mini", "o200k_base")]
    [InlineData("gpt-4", "cl100k_base")]
    [InlineData("gpt-4-turbo", "cl100k_base")]
    [InlineData("gpt-3.5-turbo", "cl100k_base")]
    public void EncodingFor_Model_PicksTheTiktokenEncodingOpenAIUses(string model, string expected)
    {
        Assert.Equal(expected, TokenCounter.EncodingFor(model));
    }

    [Fact]
    public void CountChat_OneUserMessage_AddsOpenAIsFraming()
    {
        // 3 per message + "user" (1) + "hello world" (2) + 3 reply priming = 9
        Assert.Equal(9, TokenCounter.CountChat("gpt-4o-mini", [("user", "hello world")]));
        Assert.Equal(9, TokenCounter.CountChat("gpt-3.5-turbo", [("user", "hello world")]));
    }

    [Fact]
    public void CountRequest_WithSystemPrompt_CountsTwoFramedMessages()
    {
        // system: 3 + "system" (1) + "hello world" (2); user: 3 + "user" (1) + "tiktoken is great!" (6); + 3 = 19
        var request = new LlmRequest { Model = "gpt-4", System = "hello world", UserText = "tiktoken is great!" };

        Assert.Equal(19, TokenCounter.CountRequest(request));
        Assert.Equal(TokenCountBasis.Exact, TokenCounter.BasisFor("gpt-4"));
    }

    [Fact]
    public void CountRequest_WithFewShotTurns_CountsEachTurnAsAFramedMessage()
    {
        // 19 as above, plus user: 3 + "user" (1) + "hello world" (2) and assistant: 3 + "assistant" (1) + "tiktoken is great!" (6) = 35
        var request = new LlmRequest
        {
            Model = "gpt-4",
            System = "hello world",
            UserText = "tiktoken is great!",
            PriorTurns = [new ChatTurn(ChatTurn.User, "hello world"), new ChatTurn(ChatTurn.Assistant, "tiktoken is great!")],
        };

        Assert.Equal(35, TokenCounter.CountRequest(request));
    }

    [Fact]
    public void CountChat_Anthropic_IsTheCl100kCountTimes1Point1RoundedUp()
    {
        // cl100k framed count 9 × 1.1 = 9.9 → 10
        Assert.Equal(10, TokenCounter.CountChat("claude-haiku-4-5", [("user", "hello world")]));
        Assert.Equal(TokenCountBasis.Estimate, TokenCounter.BasisFor("claude-haiku-4-5"));
    }

    [Fact]
    public void BasisFor_UnknownCompatibleModel_IsAnEstimate()
    {
        Assert.Equal(TokenCountBasis.Estimate, TokenCounter.BasisFor("llama-3-70b", ProviderNames.OpenAI));
    }
}
