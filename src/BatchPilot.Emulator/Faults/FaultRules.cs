namespace BatchPilot.Emulator;

/// <summary>
/// Per-item errors inside batches. Whether an item fails is decided by <see cref="FaultScenario.Seed"/>,
/// the rule's position and the item's custom_id, so the same input always fails the same items.
/// </summary>
public sealed class ItemFaultRule
{
    /// <summary>
    /// The error: OpenAI names <c>server_error</c> (500), <c>context_length_exceeded</c> (400),
    /// <c>rate_limit_exceeded</c> (429), <c>request_timeout</c> (top-level error), <c>invalid_request_error</c> (400),
    /// <c>overloaded</c> (503), or Anthropic names <c>api_error</c>, <c>invalid_request_error</c>,
    /// <c>overloaded_error</c>, <c>rate_limit_error</c>, <c>timeout_error</c>. Each maps to the other provider's equivalent.
    /// </summary>
    public string Error { get; init; } = "server_error";

    /// <summary>Share of items that fail, 0..1.</summary>
    public double Rate { get; init; } = 1;

    /// <summary>A custom_id fails only the first time the emulator processes it; a resubmission succeeds.</summary>
    public bool FirstAttemptOnly { get; init; }

    /// <summary><c>openai</c>, <c>anthropic</c> or null for both.</summary>
    public string? Provider { get; init; }

    /// <summary>When set, only these custom ids can fail (still subject to <see cref="Rate"/>).</summary>
    public IReadOnlyList<string>? CustomIds { get; init; }
}

/// <summary>
/// A fault on HTTP calls: an error status, a delay or a reset connection, on calls chosen by
/// <see cref="Nth"/>, <see cref="First"/> or <see cref="Rate"/> (deterministic by seed and call number).
/// </summary>
public sealed class HttpFaultRule
{
    /// <summary>HTTP method, or <c>*</c>.</summary>
    public string Method { get; init; } = "*";

    /// <summary>
    /// Path pattern: <c>*</c> (everything), an exact path, or segments where <c>*</c> or <c>{name}</c>
    /// matches one segment and a final <c>**</c> matches the rest, e.g. <c>/v1/batches/{id}</c>.
    /// </summary>
    public string Path { get; init; } = "*";

    /// <summary>Status to answer with: 429, 500, 502, 503, 529, … 0 means no error (use with <see cref="DelayMs"/>).</summary>
    public int Status { get; init; }

    /// <summary>Probability that a matching call is faulted (deterministic by seed and call number).</summary>
    public double Rate { get; init; } = 1;

    /// <summary>Only the Nth matching call (1-based).</summary>
    public int? Nth { get; init; }

    /// <summary>Only the first N matching calls.</summary>
    public int? First { get; init; }

    /// <summary>At most this many injections.</summary>
    public int? Times { get; init; }

    /// <summary>Value of <c>retry-after-ms</c> (and rounded-up <c>retry-after</c>) on 429/503/529. Default 1000.</summary>
    public int? RetryAfterMs { get; init; }

    /// <summary>
    /// With status 429: <c>insufficient_quota</c> (or <c>spend_limit</c>) answers the provider's exhausted-quota or spend-cap
    /// 429 instead of a rate limit: no retry hint, OpenAI <c>insufficient_quota</c>, Anthropic <c>enforced_spend_limit_reached</c>.
    /// </summary>
    public string? Code { get; init; }

    /// <summary>Delay before answering (or before the reset), in milliseconds.</summary>
    public int DelayMs { get; init; }

    /// <summary>Abort the connection instead of answering.</summary>
    public bool Reset { get; init; }

    /// <summary>
    /// With <see cref="Reset"/>: on the calls that answer a prompt (chat completions, responses, messages) the 200
    /// answer starts and the connection is reset half way through its body (half the JSON, or half the events of a
    /// stream); other calls are reset before answering.
    /// </summary>
    public bool MidBody { get; init; }

    /// <summary><c>openai</c>, <c>anthropic</c> or null for both.</summary>
    public string? Provider { get; init; }
}

/// <summary>
/// A fault on a whole batch, decided when the batch is created. <see cref="Kind"/> is one of
/// <c>validation_failure</c>, <c>expire</c>, <c>stuck_finalizing</c>, <c>no_output_file</c>, <c>only_error_file</c>,
/// <c>malformed_lines</c>, <c>missing_lines</c>, <c>duplicate_lines</c>, <c>unknown_lines</c>, <c>truncated_download</c>.
/// </summary>
public sealed class BatchFaultRule
{
    /// <summary>What happens to the batch (see the class summary).</summary>
    public string Kind { get; init; } = "";

    /// <summary><c>openai</c>, <c>anthropic</c> or null for both.</summary>
    public string? Provider { get; init; }

    /// <summary>Only the Nth batch created while this scenario is active (1-based); null: every batch (subject to <see cref="Rate"/>).</summary>
    public int? Nth { get; init; }

    /// <summary>Probability that a created batch gets this fault (deterministic by seed and batch number).</summary>
    public double Rate { get; init; } = 1;

    /// <summary>validation_failure: the <c>errors.data[].code</c> (default <c>token_limit_exceeded</c>).</summary>
    public string? Code { get; init; }

    /// <summary>validation_failure: the message (a default per code otherwise).</summary>
    public string? Message { get; init; }

    /// <summary>validation_failure: the 1-based input line the error points at.</summary>
    public int? Line { get; init; }

    /// <summary>expire: share of requests done before the window ended; malformed/missing/duplicate/unknown lines and truncated_download: share of lines affected. Default 0.5 for expire, 0.1 otherwise.</summary>
    public double? Fraction { get; init; }
}
