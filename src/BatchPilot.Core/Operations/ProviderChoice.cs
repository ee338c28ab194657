using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Providers;

namespace BatchPilot.Operations;

/// <summary>
/// The choices a new job makes before anything is stored or sent: its mode, its provider (from the model name unless
/// given), whether that provider has a batch API here, and the OpenAI API. Shared by <c>batchpilot run</c> and the
/// dashboard's New job page, so both refuse the same mistakes with the same one-line messages; each names its own
/// field (<c>--provider</c> on the command line, <c>provider</c> on the page).
/// </summary>
public static class ProviderChoice
{
    /// <summary>The mode: <c>batch</c> (the default when empty) or <c>sync</c>.</summary>
    /// <exception cref="InputException">Another value.</exception>
    public static JobMode ParseMode(string? value, string field = "--mode") => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "batch" => JobMode.Batch,
        "sync" => JobMode.Sync,
        _ => throw new InputException($"unknown mode '{value}'", field: field, hint: "use batch (half price, results within 24 h) or sync (immediate, rate-limited)"),
    };

    /// <summary>
    /// The provider of a model: <paramref name="provider"/> when given (checked against the model), else from the model
    /// name (<c>claude*</c> Anthropic, <c>vendor/model</c> OpenRouter, anything else OpenAI).
    /// </summary>
    /// <exception cref="InputException">An unknown provider, a model the provider does not serve, or an OpenRouter id of the wrong shape.</exception>
    public static string ProviderFor(string model, string? provider, string providerField = "--provider", string modelField = "--model")
    {
        ArgumentNullException.ThrowIfNull(model);
        if (provider is not null)
        {
            var p = provider.Trim().ToLowerInvariant();
            if (!ProviderNames.All.Contains(p))
            {
                throw new InputException($"unknown provider '{provider}'", field: providerField, hint: "use " + string.Join(", ", ProviderNames.All.SkipLast(1)) + " or " + ProviderNames.All[^1]);
            }

            if (p == ProviderNames.OpenRouter)
            {
                return CheckOpenRouterModel(model, modelField);
            }

            // An OpenAI-compatible server may serve any model name (vLLM serves vendor/model ids too), but Anthropic
            // only serves claude-* models, and a claude-* model is never served by OpenAI.
            var natural = ProviderNames.FromModel(model);
            if (natural != p && (p == ProviderNames.Anthropic || natural == ProviderNames.Anthropic))
            {
                throw new InputException($"the model '{model}' is not a model of {p}", field: modelField,
                    hint: p == ProviderNames.Anthropic ? "Anthropic models start with claude- (e.g. claude-haiku-4-5)" : (modelField.StartsWith('-') ? $"drop --provider {provider}" : "choose the provider anthropic (or from the model name)") + $" to send {model} to Anthropic");
            }

            return p;
        }

        var fromModel = ProviderNames.FromModel(model);
        return fromModel == ProviderNames.OpenRouter ? CheckOpenRouterModel(model, modelField) : fromModel;
    }

    /// <summary>An OpenRouter model id must be <c>vendor/model</c>.</summary>
    private static string CheckOpenRouterModel(string model, string modelField) => ProviderNames.IsOpenRouterModelId(model)
        ? ProviderNames.OpenRouter
        : throw new InputException(
            $"the model id '{model}' is not an OpenRouter model id: expected vendor/model (a lower-case vendor, one '/', the model name), e.g. openai/gpt-4o-mini or meta-llama/llama-3.1-8b-instruct:free",
            field: modelField,
            hint: modelField.StartsWith('-')
                ? "copy the id from openrouter.ai/models, or give --provider openai to send it to another OpenAI-compatible server (--base-url)"
                : "copy the id from openrouter.ai/models, or choose the provider openai to send it to another OpenAI-compatible server");

    /// <summary>Refuses batch mode for a provider whose batch API BatchPilot does not use, before anything is sent.</summary>
    /// <exception cref="InputException">The provider has no batch API here.</exception>
    public static void RequireBatchApi(string provider, string model, string modeField = "--mode")
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (ProviderNames.HasBatchApi(provider))
        {
            return;
        }

        var why = provider == ProviderNames.OpenRouter
            ? "OpenRouter requests go through its synchronous API only"
            : "Azure OpenAI batch deployments are not supported yet";
        throw new InputException($"batch mode is not available for {model} (provider {provider}): {why}", field: modeField,
            hint: modeField.StartsWith('-') ? "add --mode sync" : "choose the synchronous mode (sync)");
    }

    /// <summary>The OpenAI API, checked against the provider: null for chat completions (the default), else <c>responses</c>.</summary>
    /// <exception cref="InputException">An unknown API, or the Responses API with another provider than OpenAI.</exception>
    public static string? ParseApi(string? value, string provider, string field = "--api")
    {
        var api = value?.Trim().ToLowerInvariant();
        switch (api)
        {
            case null or "" or OpenAIApis.Chat:
                return null;
            case OpenAIApis.Responses when provider == ProviderNames.OpenAI:
                return OpenAIApis.Responses;
            case OpenAIApis.Responses:
                throw new InputException($"the Responses API is used with OpenAI only, not {provider}", field: field,
                    hint: field.StartsWith('-') ? "drop --api responses (chat completions are used)" : "choose chat (chat completions are used)");
            default:
                throw new InputException($"unknown API '{value}'", field: field, hint: "use chat (chat completions) or responses (the OpenAI Responses API)");
        }
    }
}
