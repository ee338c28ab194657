using BatchPilot.Providers;
using BatchPilot.Running;

namespace BatchPilot.Operations;

/// <summary>What a recommendation may name: the job, its provider and model, the provider batch ids concerned.</summary>
/// <param name="JobId">The job id, used in the commands.</param>
/// <param name="Provider">Provider name.</param>
/// <param name="Model">Model id.</param>
/// <param name="ProviderBatchIds">Provider batch ids concerned (for "contact the provider").</param>
public sealed record AdviceContext(string JobId, string Provider, string Model, IReadOnlyList<string> ProviderBatchIds);

/// <summary>
/// Classifies item error codes into families and says what to do about each. Codes come from the providers
/// (OpenAI error files, Anthropic results) and from the engine (<c>missing_result</c>, <c>batch_expired</c>…).
/// </summary>
public static class ErrorAdvice
{
    private static readonly HashSet<string> TransientCodes = new(StringComparer.Ordinal)
    {
        "rate_limit_exceeded", "rate_limit_error", "rate_limit", "server_error", "api_error", "internal_error", "overloaded", "overloaded_error",
        "service_unavailable", "request_timeout", "timeout_error", "timeout", "missing_result", "missing_response", "missing_body", "unknown_error",
    };

    private static readonly HashSet<string> InvalidCodes = new(StringComparer.Ordinal)
    {
        "invalid_json_line", "mismatched_url", "mismatched_model", "duplicate_custom_id", "empty_file", "invalid_file_format", "invalid_file_purpose",
        "content_filter", "not_found_error",
    };

    /// <summary>The family of an error code (<see cref="ErrorFamilies"/>); the message refines a few generic codes.</summary>
    public static string FamilyOf(string code, string? message)
    {
        ArgumentNullException.ThrowIfNull(code);
        var c = code.ToLowerInvariant();
        var http = HttpStatusOf(c);
        if (c == "token_limit_exceeded")
        {
            return ErrorFamilies.TokenLimit;
        }

        if (c is "insufficient_quota" or "billing_error" or "billing_hard_limit_reached" or "budget_exceeded" or "enforced_spend_limit_reached" || http == 402)
        {
            return ErrorFamilies.Budget;
        }

        if (c is "authentication_error" or "invalid_api_key" or "permission_error" || http is 401 or 403)
        {
            return ErrorFamilies.Authentication;
        }

        if (c is "too_many_requests" or "file_too_large" or "request_too_large" || http == 413)
        {
            return ErrorFamilies.TooLarge;
        }

        if (c == "cancelled_by_user")
        {
            return ErrorFamilies.CancelledByUser;
        }

        // Checked here before sending: an image to fix or add; an answer that broke the --json-schema (a retry may fix it).
        if (c.StartsWith("image_", StringComparison.Ordinal))
        {
            return ErrorFamilies.InvalidRequest;
        }

        if (c == Planning.AnswerSchema.ValidationFailedCode)
        {
            return ErrorFamilies.Transient;
        }

        if (c is "batch_cancelled" or "canceled" or "cancelled")
        {
            return ErrorFamilies.Cancelled;
        }

        if (c is "batch_expired" or "expired")
        {
            return ErrorFamilies.Expired;
        }

        if (c is "unsupported_parameter" or "unsupported_value"
            || (MentionsMaxTokens(message) && (c is "invalid_request_error" or "invalid_value" || http == 400)))
        {
            return ErrorFamilies.UnsupportedParameter;
        }

        if (c is "context_length_exceeded" or "string_above_max_length"
            || (message is not null && (message.Contains("prompt is too long", StringComparison.OrdinalIgnoreCase)
                || message.Contains("maximum context length", StringComparison.OrdinalIgnoreCase))))
        {
            return ErrorFamilies.ContextLength;
        }

        if (TransientCodes.Contains(c) || http is 408 or 409 or 429 or >= 500)
        {
            return ErrorFamilies.Transient;
        }

        if (InvalidCodes.Contains(c) || JobEngine.NonRetryableCodes.Contains(c) || http is >= 400 and < 500)
        {
            return ErrorFamilies.InvalidRequest;
        }

        return ErrorFamilies.Unknown;
    }

    /// <summary>True when <c>batchpilot resume</c> (without <c>--include-invalid</c>) sends items with this code again.</summary>
    public static bool ResumedByDefault(string code) => !JobEngine.NonRetryableCodes.Contains(code);

    /// <summary>What to do about items that failed with <paramref name="code"/>.</summary>
    public static RecommendedAction ActionFor(string code, string? message, AdviceContext context)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(context);
        var job = context.JobId;
        var resume = $"batchpilot resume {job}";
        // Resume skips the codes a retry cannot fix unless told --include-invalid; others it sends anyway.
        var resumeInvalid = ResumedByDefault(code) ? resume : $"batchpilot resume {job} --include-invalid";
        var resendNote = $"send them again with a new 'batchpilot run' ('{resumeInvalid}' resends them unchanged)";
        var c = code.ToLowerInvariant();
        if (c == Planning.ImageProblem.SkippedCode)
        {
            return new RecommendedAction(ActionKinds.Resume, $"These rows were skipped (--skip-missing-images) because their image could not be sent (the sample message names the file, row and column). Once the files are there, '{resume}' sends them.", resume);
        }

        if (c.StartsWith("image_", StringComparison.Ordinal))
        {
            return new RecommendedAction(ActionKinds.FixInput, $"These rows were not sent because of their image (the sample message names the file, row and column): add or fix the files (PNG, JPEG, GIF or WebP within the provider's size limit), then '{resume}' sends only these rows.", resume);
        }

        if (c == Planning.AnswerSchema.ValidationFailedCode)
        {
            return new RecommendedAction(ActionKinds.Resume, $"The answers did not match the --json-schema (the sample message says where). '{resume}' asks again; if it keeps failing, simplify the schema or say in the prompt what each field holds.", resume);
        }

        switch (FamilyOf(code, message))
        {
            case ErrorFamilies.Transient:
                var lead = c switch
                {
                    _ when c.StartsWith("rate_limit", StringComparison.Ordinal) || c == "http_429" => "The provider rate-limited these requests.",
                    "overloaded" or "overloaded_error" or "service_unavailable" or "http_503" or "http_529" => "The provider was overloaded.",
                    "request_timeout" or "timeout_error" or "timeout" or "http_408" => "These requests timed out at the provider.",
                    "missing_result" or "missing_response" or "missing_body" => "The provider returned no usable result for these requests.",
                    _ => "The provider had a server error on these requests.",
                };
                return new RecommendedAction(ActionKinds.Resume, $"{lead} A retry usually works: '{resume}' sends only these items again, as a new batch.", resume);
            case ErrorFamilies.Expired:
                return new RecommendedAction(ActionKinds.Resume, $"The batch's 24 h window ended before these requests ran. '{resume}' sends them again; smaller batches finish sooner.", resume);
            case ErrorFamilies.Cancelled:
                return new RecommendedAction(ActionKinds.Resume, $"The batch was cancelled before these requests ran. If you still want them, '{resume}' sends them again.", resume);
            case ErrorFamilies.CancelledByUser:
                return new RecommendedAction(ActionKinds.Resume, $"The job was cancelled before these requests were sent. If you still want them, '{resume}' sends them.", resume);
            case ErrorFamilies.TokenLimit:
                return new RecommendedAction(ActionKinds.WaitThenResume,
                    $"The provider's enqueued-token limit for {context.Model} was reached (too many tokens waiting in batches at once). Wait for your other in-progress batches to finish, then '{resume}'; to stay under the limit, give it as --max-batch-tokens (or enqueued_token_limits.{context.Model} in config/user.yaml), or lower --batch-size.",
                    resume);
            case ErrorFamilies.TooLarge:
                return new RecommendedAction(ActionKinds.SplitSmaller, "The batch was too large for the provider. Split it: run again with a lower --batch-size.");
            case ErrorFamilies.Budget:
                return new RecommendedAction(ActionKinds.RaiseBudget, $"The account's quota or spending limit was reached. Raise the budget or add credits at {DisplayName(context.Provider)}, then '{resume}'.", resume);
            case ErrorFamilies.Authentication:
                return new RecommendedAction(ActionKinds.CheckKey, $"{DisplayName(context.Provider)} refused the API key. Check it with 'batchpilot doctor', then '{resume}'.", "batchpilot doctor");
            case ErrorFamilies.ContextLength:
                return new RecommendedAction(ActionKinds.FixInput,
                    $"The prompt is longer than {context.Model}'s context window. Shorten these rows' text or the prompt (or use a model with a larger context window), then {resendNote}.",
                    resumeInvalid);
            case ErrorFamilies.UnsupportedParameter:
                return new RecommendedAction(ActionKinds.FixInput, UnsupportedParameterText(message, context.Model, resumeInvalid), resumeInvalid);
            case ErrorFamilies.InvalidRequest:
                var what = c switch
                {
                    "model_not_found" => $"The provider does not know the model {context.Model}, or this key may not use it: check the model id.",
                    "content_policy_violation" or "invalid_prompt" or "content_filter" => "The provider refused these prompts under its content policy: rephrase the prompt or the rows.",
                    "mismatched_model" => "The batch file mixes models; a provider batch takes one model.",
                    "duplicate_custom_id" => "The batch file repeats a custom_id; every request needs its own.",
                    _ => "The provider refused these requests as invalid: fix the prompt, parameters or rows (see the sample message).",
                };
                return new RecommendedAction(ActionKinds.FixInput, $"{what} Then {resendNote}.", resumeInvalid);
            default:
                var ids = context.ProviderBatchIds.Count == 0 ? string.Empty : $" with batch id {string.Join(", ", context.ProviderBatchIds)}";
                return new RecommendedAction(ActionKinds.Resume,
                    $"Unrecognised error '{code}'. Try '{resume}'; if the same error comes back, contact {DisplayName(context.Provider)}{ids}.", resume);
        }
    }

    /// <summary>The provider as users write it.</summary>
    public static string DisplayName(string provider) => provider switch
    {
        ProviderNames.OpenAI => "OpenAI",
        ProviderNames.Anthropic => "Anthropic",
        ProviderNames.OpenRouter => "OpenRouter",
        ProviderNames.Azure => "Azure OpenAI",
        _ => provider,
    };

    private static string UnsupportedParameterText(string? message, string model, string resumeInvalid)
    {
        if (message is not null && MentionsMaxTokens(message))
        {
            var rejectsMaxCompletion = message.Contains("'max_completion_tokens' is not supported", StringComparison.OrdinalIgnoreCase)
                || message.Contains("Unsupported parameter: 'max_completion_tokens'", StringComparison.OrdinalIgnoreCase)
                || message.Contains("use 'max_tokens'", StringComparison.OrdinalIgnoreCase);
            return rejectsMaxCompletion
                ? $"{model} (or the server at this base URL) rejects 'max_completion_tokens' and wants 'max_tokens' (BatchPilot sends max_completion_tokens for o1, o3, o4 and gpt-5 models). Send these rows again with a new 'batchpilot run' without --max-tokens ('{resumeInvalid}' resends them unchanged)."
                : $"{model} rejects 'max_tokens' and wants 'max_completion_tokens' (BatchPilot sends max_completion_tokens only for o1, o3, o4 and gpt-5 models). Send these rows again with a new 'batchpilot run' without --max-tokens, and report the model so it is added ('{resumeInvalid}' resends them unchanged).";
        }

        return $"{model} rejects a parameter of these requests (see the sample message): fix --max-tokens or --temperature, then send them again with a new 'batchpilot run' ('{resumeInvalid}' resends them unchanged).";
    }

    private static bool MentionsMaxTokens(string? message) =>
        message is not null && message.Contains("max_tokens", StringComparison.OrdinalIgnoreCase)
        && message.Contains("max_completion_tokens", StringComparison.OrdinalIgnoreCase);

    private static int? HttpStatusOf(string code) =>
        code.StartsWith("http_", StringComparison.Ordinal) && int.TryParse(code.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
}
