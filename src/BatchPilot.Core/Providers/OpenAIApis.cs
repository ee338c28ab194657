namespace BatchPilot.Providers;

/// <summary>The OpenAI APIs a job can send its requests through (<c>--api</c>).</summary>
public static class OpenAIApis
{
    /// <summary>Chat completions (<c>/v1/chat/completions</c>): the default, and the only one of OpenRouter and Azure here.</summary>
    public const string Chat = "chat";

    /// <summary>The Responses API (<c>/v1/responses</c>: <c>input</c>, <c>instructions</c>, <c>max_output_tokens</c>).</summary>
    public const string Responses = "responses";

    /// <summary>True for <see cref="Responses"/>; null and <see cref="Chat"/> are chat completions.</summary>
    public static bool IsResponses(string? api) => api == Responses;
}
