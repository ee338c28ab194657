namespace BatchPilot.Providers;

/// <summary>What a batch needs to be staged: its token, its requests in order, their count.</summary>
public sealed record BatchStaging
{
    /// <summary>Our client token for the batch (sent as metadata where the provider allows).</summary>
    public required string Token { get; init; }

    /// <summary>Number of requests.</summary>
    public required int Count { get; init; }

    /// <summary>The requests, streamed in order.</summary>
    public required IAsyncEnumerable<IdentifiedRequest> Requests { get; init; }
}

/// <summary>
/// A provider's batch API. Implementations never retry a create blindly: an ambiguous create failure
/// is surfaced, and the engine reconciles through <see cref="ListRecentAsync"/>.
/// </summary>
public interface IBatchClient : IDisposable
{
    /// <summary>Provider name (<see cref="ProviderNames"/>).</summary>
    string Provider { get; }

    /// <summary>Per-batch limits.</summary>
    ProviderLimits Limits { get; }

    /// <summary>Bytes one request takes in the request file/body (for splitting).</summary>
    int MeasureRequest(IdentifiedRequest request);

    /// <summary>
    /// Prepares the requests for <see cref="CreateAsync"/>: OpenAI uploads a JSONL file and returns its file id;
    /// Anthropic writes the request body to a local spool file and returns its path.
    /// </summary>
    Task<string> StageAsync(BatchStaging staging, CancellationToken cancellationToken = default);

    /// <summary>True when a staged reference from an earlier process can still be used.</summary>
    Task<bool> IsStagedAsync(string staged, CancellationToken cancellationToken = default);

    /// <summary>Creates the provider batch from a staged reference. Not retried on ambiguous failures.</summary>
    Task<ProviderBatch> CreateAsync(string staged, string token, CancellationToken cancellationToken = default);

    /// <summary>Reads a batch's current status.</summary>
    Task<ProviderBatch> GetAsync(string providerBatchId, CancellationToken cancellationToken = default);

    /// <summary>Lists batches created at or after <paramref name="since"/>, newest first.</summary>
    IAsyncEnumerable<ProviderBatch> ListRecentAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>Asks the provider to cancel a batch.</summary>
    Task<ProviderBatch> CancelAsync(string providerBatchId, CancellationToken cancellationToken = default);

    /// <summary>Streams every result line of an ended batch (OpenAI: the output file, then the error file).</summary>
    IAsyncEnumerable<ResultLine> ReadResultsAsync(ProviderBatch batch, CancellationToken cancellationToken = default);

    /// <summary>Removes local or remote staging left by a batch, best effort.</summary>
    Task CleanupStagedAsync(string staged, CancellationToken cancellationToken = default);
}

/// <summary>A provider call failed (HTTP error after retries, or an unreadable response).</summary>
public sealed class ProviderException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ProviderException(string provider, string message, int? statusCode = null, string? errorCode = null, bool isAuthError = false, bool mayHaveSucceeded = false, Exception? inner = null)
        : base(message, inner)
    {
        Provider = provider;
        StatusCode = statusCode;
        ErrorCode = errorCode;
        IsAuthError = isAuthError;
        MayHaveSucceeded = mayHaveSucceeded;
    }

    /// <summary>Provider name.</summary>
    public string Provider { get; }

    /// <summary>HTTP status, when there was a response.</summary>
    public int? StatusCode { get; }

    /// <summary>The provider's error code or type.</summary>
    public string? ErrorCode { get; }

    /// <summary>401/403: the key is missing, wrong or lacks permission.</summary>
    public bool IsAuthError { get; }

    /// <summary>True when the request may have been carried out (no response received); reconcile before retrying.</summary>
    public bool MayHaveSucceeded { get; }

    /// <summary>True for a 4xx other than 408/409/429: sending the same again will fail again.</summary>
    public bool IsPermanent => StatusCode is >= 400 and < 500 and not 408 and not 409 and not 429;
}
