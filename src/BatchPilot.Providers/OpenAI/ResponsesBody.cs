using System.Text.Json;

namespace BatchPilot.Providers.OpenAI;

/// <summary>
/// The OpenAI Responses API body (<c>POST /v1/responses</c>, also the <c>body</c> of <c>/v1/responses</c> batch lines):
/// the system prompt as <c>instructions</c>, the user message as <c>input</c> (a string, or a list of role/content
/// messages when few-shot turns come first or images go with it), structured output as <c>text.format</c>, <c>max_output_tokens</c> (the same name for every model), and
/// <c>store: false</c> so that bulk answers are not kept on OpenAI's side for later retrieval.
/// </summary>
internal static class ResponsesBody
{
    /// <summary>The endpoint of the Responses API, relative to the API root.</summary>
    public const string Endpoint = "/v1/responses";

    /// <summary>Writes the Responses API body of a request.</summary>
    public static void Write(Utf8JsonWriter w, LlmRequest r)
    {
        w.WriteStartObject();
        w.WriteString("model", r.Model);
        if (!string.IsNullOrEmpty(r.System))
        {
            w.WriteString("instructions", r.System);
        }

        if (r.PriorTurns.Count == 0 && r.Images.Count == 0)
        {
            w.WriteString("input", r.UserText);
        }
        else
        {
            w.WriteStartArray("input");
            foreach (var turn in r.PriorTurns)
            {
                WriteMessage(w, turn.Role, turn.Text);
            }

            // The user message: its images as input_image parts, then the text as an input_text part.
            w.WriteStartObject();
            w.WriteString("role", ChatTurn.User);
            ImageParts.WriteUserContent(w, r, ImageParts.WriteResponses, "input_text");
            w.WriteEndObject();
            w.WriteEndArray();
        }

        if (r.MaxTokens is { } max)
        {
            w.WriteNumber("max_output_tokens", max);
        }

        if (r.Temperature is { } t)
        {
            w.WriteNumber("temperature", t);
        }

        if (r.ResponseFormat is { } format)
        {
            OpenAIBatchClient.WriteTextFormat(w, format);
        }

        w.WriteBoolean("store", false);
        w.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter w, string role, string text)
    {
        w.WriteStartObject();
        w.WriteString("role", role);
        w.WriteString("content", text);
        w.WriteEndObject();
    }

    /// <summary>
    /// A Responses API answer as a result: <c>status: failed</c> (or a non-null <c>error</c>) is a failure with the
    /// provider's code; <c>completed</c> and <c>incomplete</c> (the output token limit was reached) are answers.
    /// </summary>
    public static ResultLine Parse(string customId, JsonElement body, int status)
    {
        if (body.Str("status") == "failed" || body.Obj("error") is not null)
        {
            var error = body.Obj("error");
            return new ResultLine
            {
                CustomId = customId,
                Kind = ResultKind.Failed,
                StatusCode = status,
                ErrorCode = error?.Str("code") ?? "response_failed",
                ErrorMessage = error?.Str("message") ?? "The response failed.",
            };
        }

        return new ResultLine
        {
            CustomId = customId,
            Kind = ResultKind.Succeeded,
            StatusCode = status,
            Text = OpenAIBatchClient.ExtractText(body),
            Usage = OpenAIBatchClient.ExtractUsage(body),
        };
    }
}
