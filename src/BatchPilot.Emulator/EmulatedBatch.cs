namespace BatchPilot.Emulator;

/// <summary>A batch as the emulator holds it, for test assertions.</summary>
/// <param name="Provider"><c>openai</c> or <c>anthropic</c>.</param>
/// <param name="Id">The provider batch id (<c>batch_…</c> or <c>msgbatch_…</c>).</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="RequestCount">Number of requests in the batch (0 for an OpenAI batch whose input failed validation before counting).</param>
/// <param name="Metadata">OpenAI metadata; null for Anthropic or when none was sent.</param>
/// <param name="Status">The provider status now (<c>validating</c>, <c>in_progress</c>, …, or Anthropic <c>in_progress</c>/<c>canceling</c>/<c>ended</c>).</param>
/// <param name="CustomIds">The custom ids in input order (read from disk on first access).</param>
public sealed record EmulatedBatch(
    string Provider,
    string Id,
    DateTimeOffset CreatedAt,
    int RequestCount,
    IReadOnlyDictionary<string, string>? Metadata,
    string Status,
    IReadOnlyList<string> CustomIds);
