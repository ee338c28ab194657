using BatchPilot.Providers.Anthropic;
using BatchPilot.Providers.Http;
using BatchPilot.Providers.OpenAI;

namespace BatchPilot.Providers;

/// <summary>Where and how to reach a provider's batch API.</summary>
public sealed record BatchClientOptions
{
    /// <summary>Provider name (<see cref="ProviderNames"/>).</summary>
    public required string Provider { get; init; }

    /// <summary>Base URL: OpenAI style ends with <c>/v1</c>; Anthropic's is the host root.</summary>
    public required Uri BaseUrl { get; init; }

    /// <summary>The API key (never logged).</summary>
    public required string ApiKey { get; init; }

    /// <summary>Folder for request files being written before upload.</summary>
    public required string SpoolDirectory { get; init; }

    /// <summary>Most requests per batch (capped by the provider limit).</summary>
    public int? MaxRequestsPerBatch { get; init; }

    /// <summary>Most bytes per batch (capped by the provider limit).</summary>
    public long? MaxBytesPerBatch { get; init; }

    /// <summary>Retry behaviour for transient failures.</summary>
    public RetryOptions Retry { get; init; } = new();

    /// <summary>Called before each retry (attempt, delay, reason), for progress display.</summary>
    public Action<int, TimeSpan, string>? OnRetry { get; init; }

    /// <summary>
    /// OpenAI: the endpoint of the batches (each line's <c>url</c> and the batch's <c>endpoint</c>), e.g. <c>/v1/responses</c>
    /// for a raw batch file; null for <c>/v1/chat/completions</c>. Anthropic ignores it.
    /// </summary>
    public string? BatchEndpoint { get; init; }

    /// <summary>The OpenAI API used (<see cref="OpenAIApis"/>): chat completions when null.</summary>
    public string? Api { get; init; }

    /// <summary>Azure OpenAI: the <c>api-version</c> query parameter (default <see cref="SyncClients.AzureDefaultApiVersion"/>).</summary>
    public string? ApiVersion { get; init; }
}

/// <summary>Creates batch clients.</summary>
public static class BatchClients
{
    /// <summary>Default OpenAI base URL.</summary>
    public static readonly Uri OpenAIDefaultBaseUrl = new("https://api.openai.com/v1");

    /// <summary>Default Anthropic base URL.</summary>
    public static readonly Uri AnthropicDefaultBaseUrl = new("https://api.anthropic.com");

    /// <summary>Creates a client for the provider.</summary>
    public static IBatchClient Create(BatchClientOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var limits = ProviderNames.LimitsOf(options.Provider);
        limits = new ProviderLimits(
            Math.Min(limits.MaxRequests, options.MaxRequestsPerBatch ?? int.MaxValue),
            Math.Min(limits.MaxBytes, options.MaxBytesPerBatch ?? long.MaxValue));
        var http = ProviderHttp.CreateClient(options.Retry, time, options.OnRetry);
        return options.Provider switch
        {
            ProviderNames.Anthropic => new AnthropicBatchClient(http, options.BaseUrl, options.ApiKey, options.SpoolDirectory, limits, ownsHttp: true),
            _ => new OpenAIBatchClient(http, options.BaseUrl, options.ApiKey, options.SpoolDirectory, limits, ownsHttp: true)
            {
                BatchEndpoint = options.BatchEndpoint ?? (OpenAIApis.IsResponses(options.Api) ? ResponsesBody.Endpoint : OpenAIBatchClient.ChatEndpoint),
            },
        };
    }
}
