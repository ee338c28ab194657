using System.Text;
using System.Text.Json;
using BatchPilot.Providers.Anthropic;
using BatchPilot.Providers.OpenAI;

namespace BatchPilot.Providers.Tests;

/// <summary>Few-shot examples are sent as user/assistant turns before the row's prompt.</summary>
public sealed class FewShotWireTests
{
    private static readonly LlmRequest Request = new()
    {
        Model = "m",
        System = "Be brief.",
        PriorTurns = [new ChatTurn(ChatTurn.User, "Great kettle"), new ChatTurn(ChatTurn.Assistant, "5")],
        UserText = "Lid broke",
        MaxTokens = 10,
    };

    private static string Write(Action<Utf8JsonWriter> write) => JsonText.Write(write);

    [Fact]
    public void OpenAIBody_WithExamples_PutsTurnsAfterSystemAndBeforeTheUserMessage()
    {
        var body = Write(w => OpenAIBatchClient.WriteBody(w, Request));

        Assert.Equal(
            """{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Great kettle"},{"role":"assistant","content":"5"},{"role":"user","content":"Lid broke"}],"max_tokens":10}""",
            body);
    }

    [Fact]
    public void AnthropicParams_WithExamples_PutsTurnsBeforeTheUserMessage()
    {
        var body = Write(w => AnthropicBatchClient.WriteParams(w, Request with { Model = "claude-x" }));

        Assert.Equal(
            """{"model":"claude-x","max_tokens":10,"system":"Be brief.","messages":[{"role":"user","content":"Great kettle"},{"role":"assistant","content":"5"},{"role":"user","content":"Lid broke"}]}""",
            body);
    }
}
