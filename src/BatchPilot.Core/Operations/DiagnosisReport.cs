namespace BatchPilot.Operations;

/// <summary>What a diagnosis recommends. <see cref="Kind"/> is one of <see cref="ActionKinds"/>.</summary>
/// <param name="Kind">Machine-readable kind (<c>wait</c>, <c>resume</c>, <c>fix_input</c>…).</param>
/// <param name="Text">The recommendation as a sentence a user can follow.</param>
/// <param name="Command">The command to run, when there is one.</param>
public sealed record RecommendedAction(string Kind, string Text, string? Command = null);

/// <summary>The kinds of <see cref="RecommendedAction"/>. An open vocabulary: new kinds may appear.</summary>
public static class ActionKinds
{
    /// <summary>Nothing to do.</summary>
    public const string None = "none";

    /// <summary>The provider is still working: wait (and watch).</summary>
    public const string Wait = "wait";

    /// <summary>Results are at the provider but not applied: collect them.</summary>
    public const string Collect = "collect";

    /// <summary>Send the items again with <c>batchpilot resume</c>.</summary>
    public const string Resume = "resume";

    /// <summary>Wait for the other batches in flight, then resume (enqueued-token limits).</summary>
    public const string WaitThenResume = "wait_then_resume";

    /// <summary>The requests are invalid: fix the prompt, parameters or rows.</summary>
    public const string FixInput = "fix_input";

    /// <summary>The batch was too large: send smaller batches.</summary>
    public const string SplitSmaller = "split_smaller";

    /// <summary>Quota or spending limit reached: raise the budget or add credits.</summary>
    public const string RaiseBudget = "raise_budget";

    /// <summary>The provider refused the API key.</summary>
    public const string CheckKey = "check_key";

    /// <summary>Something only the provider can explain: contact it with the batch id.</summary>
    public const string ContactProvider = "contact_provider";
}

/// <summary>The families an item error code falls into; each has its own recommended action.</summary>
public static class ErrorFamilies
{
    /// <summary>Rate limits, server errors, overload, timeouts, missing results: a retry fixes them.</summary>
    public const string Transient = "transient";

    /// <summary>The batch's 24 h window ended before the request ran.</summary>
    public const string Expired = "expired";

    /// <summary>The batch was cancelled before the request ran.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The user cancelled the job before the request was sent.</summary>
    public const string CancelledByUser = "cancelled_by_user";

    /// <summary>The request is invalid (bad parameter, unknown model, refused content…).</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>The prompt does not fit the model's context window.</summary>
    public const string ContextLength = "context_length";

    /// <summary>The model rejects a parameter (typically <c>max_tokens</c> vs <c>max_completion_tokens</c>).</summary>
    public const string UnsupportedParameter = "unsupported_parameter";

    /// <summary>The provider's enqueued-token limit was reached (OpenAI batch validation).</summary>
    public const string TokenLimit = "token_limit";

    /// <summary>The batch was too large for the provider.</summary>
    public const string TooLarge = "too_large";

    /// <summary>Quota, billing or spending limit.</summary>
    public const string Budget = "budget";

    /// <summary>The API key was refused.</summary>
    public const string Authentication = "authentication";

    /// <summary>A code BatchPilot does not know.</summary>
    public const string Unknown = "unknown";
}

/// <summary>The diagnosis of one job: what happened to each batch and item, grouped, with what to do next.</summary>
public sealed record DiagnosisReport
{
    /// <summary>Job id.</summary>
    public required string JobId { get; init; }

    /// <summary>Job name.</summary>
    public required string JobName { get; init; }

    /// <summary>Our job status (<c>Running</c>, <c>CompletedWithErrors</c>…).</summary>
    public required string Status { get; init; }

    /// <summary>Provider name.</summary>
    public required string Provider { get; init; }

    /// <summary>Model id.</summary>
    public required string Model { get; init; }

    /// <summary><c>batch</c> or <c>sync</c>.</summary>
    public required string Mode { get; init; }

    /// <summary>Base URL, or <c>emulator</c>.</summary>
    public required string Endpoint { get; init; }

    /// <summary>When the job was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When every item reached a final state, if it did.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>When this diagnosis was made.</summary>
    public required DateTimeOffset DiagnosedAt { get; init; }

    /// <summary>One sentence: how the job stands.</summary>
    public required string Summary { get; init; }

    /// <summary>Item counts.</summary>
    public required DiagnosisCounts Items { get; init; }

    /// <summary>Items that ended without succeeding, over all items (0 to 1).</summary>
    public required double FailureRate { get; init; }

    /// <summary>Every batch of the job, in order.</summary>
    public required IReadOnlyList<BatchDiagnosis> Batches { get; init; }

    /// <summary>Items that did not succeed, grouped by error code, largest group first.</summary>
    public required IReadOnlyList<ErrorGroup> ErrorGroups { get; init; }

    /// <summary>Result-file anomalies recorded in the history (unknown, duplicated or unreadable lines).</summary>
    public required IReadOnlyList<Anomaly> Anomalies { get; init; }

    /// <summary>What to do next, most urgent first.</summary>
    public required IReadOnlyList<RecommendedAction> Actions { get; init; }
}

/// <summary>Item counts of a diagnosed job.</summary>
public sealed record DiagnosisCounts
{
    /// <summary>All items.</summary>
    public long Total { get; init; }

    /// <summary>Succeeded.</summary>
    public long Succeeded { get; init; }

    /// <summary>Failed (the provider returned an error, or no result).</summary>
    public long Failed { get; init; }

    /// <summary>Expired with their batch.</summary>
    public long Expired { get; init; }

    /// <summary>Cancelled.</summary>
    public long Cancelled { get; init; }

    /// <summary>Not in any batch yet.</summary>
    public long Pending { get; init; }

    /// <summary>In a batch that is planned, being submitted, or at the provider.</summary>
    public long InFlight { get; init; }

    /// <summary>Failed, expired or cancelled.</summary>
    public long NotSucceeded => Failed + Expired + Cancelled;
}

/// <summary>One batch as diagnosed.</summary>
public sealed record BatchDiagnosis
{
    /// <summary>1-based number within the job.</summary>
    public required int Number { get; init; }

    /// <summary>Our state (<c>Submitted</c>, <c>Collected</c>…).</summary>
    public required string State { get; init; }

    /// <summary>The provider's batch id, once known.</summary>
    public string? ProviderBatchId { get; init; }

    /// <summary>The provider's last known status, raw (<c>in_progress</c>, <c>completed</c>, <c>ended</c>…).</summary>
    public string? ProviderStatus { get; init; }

    /// <summary>Requests sent in the batch.</summary>
    public required int Requests { get; init; }

    /// <summary>Requests done, as the provider last reported.</summary>
    public required int ProviderDone { get; init; }

    /// <summary>Requests failed, as the provider last reported.</summary>
    public required int ProviderFailed { get; init; }

    /// <summary>Items whose current attempt is in this batch and succeeded.</summary>
    public required long ItemsSucceeded { get; init; }

    /// <summary>Items whose current attempt is in this batch and failed, expired or were cancelled.</summary>
    public required long ItemsFailed { get; init; }

    /// <summary>Items whose current attempt is in this batch and has no result yet.</summary>
    public required long ItemsInFlight { get; init; }

    /// <summary>Failed items over the ended items of this batch (0 to 1; 0 when none ended).</summary>
    public required double FailureRate { get; init; }

    /// <summary>When the batch was planned.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the create call was about to be made.</summary>
    public DateTimeOffset? SubmittingAt { get; init; }

    /// <summary>When the provider acknowledged the batch.</summary>
    public DateTimeOffset? SubmittedAt { get; init; }

    /// <summary>When the provider batch was seen ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>When the results were applied.</summary>
    public DateTimeOffset? CollectedAt { get; init; }

    /// <summary>Seconds since submission while the batch is still at the provider.</summary>
    public double? AgeSeconds { get; init; }

    /// <summary>True when the batch has been at the provider longer than the stuck threshold (24 h).</summary>
    public required bool Stuck { get; init; }

    /// <summary>Uploaded input file id (OpenAI).</summary>
    public string? InputFileId { get; init; }

    /// <summary>Output file id (OpenAI).</summary>
    public string? OutputFileId { get; init; }

    /// <summary>Error file id (OpenAI).</summary>
    public string? ErrorFileId { get; init; }

    /// <summary>The batch's validation errors (or the provider's refusal), with their input line numbers.</summary>
    public required IReadOnlyList<ValidationError> ValidationErrors { get; init; }

    /// <summary>What is wrong with the batch, if anything, as a sentence.</summary>
    public string? Problem { get; init; }

    /// <summary>What to do about this batch.</summary>
    public required RecommendedAction Action { get; init; }
}

/// <summary>A validation error of a batch.</summary>
/// <param name="Code">Provider code, e.g. <c>token_limit_exceeded</c>, <c>invalid_json_line</c>.</param>
/// <param name="Message">Provider message.</param>
/// <param name="Line">1-based line of the batch input file, when the provider gives one.</param>
/// <param name="CustomId">The custom id of the request on that line, when known.</param>
/// <param name="SourceRow">The row of the user's input file that request came from, when known.</param>
public sealed record ValidationError(string? Code, string Message, int? Line, string? CustomId, long? SourceRow);

/// <summary>Items that did not succeed with one error code.</summary>
public sealed record ErrorGroup
{
    /// <summary>The error code (<c>server_error</c>, <c>batch_expired</c>, <c>context_length_exceeded</c>…).</summary>
    public required string Code { get; init; }

    /// <summary>Its family (<see cref="ErrorFamilies"/>).</summary>
    public required string Family { get; init; }

    /// <summary>How many items.</summary>
    public required long Count { get; init; }

    /// <summary>Share of all items (0 to 1).</summary>
    public required double Rate { get; init; }

    /// <summary>The message of the first item of the group.</summary>
    public string? SampleMessage { get; init; }

    /// <summary>The first custom ids of the group, in input order.</summary>
    public required IReadOnlyList<string> CustomIds { get; init; }

    /// <summary>How many more custom ids the group has beyond <see cref="CustomIds"/>.</summary>
    public required long MoreCustomIds { get; init; }

    /// <summary>Numbers of the batches holding these items.</summary>
    public required IReadOnlyList<int> Batches { get; init; }

    /// <summary>True when <c>batchpilot resume</c> sends these items again without <c>--include-invalid</c>.</summary>
    public required bool ResumedByDefault { get; init; }

    /// <summary>What to do about them.</summary>
    public required RecommendedAction Action { get; init; }
}

/// <summary>A result-file anomaly recorded in the history.</summary>
/// <param name="At">When it was recorded.</param>
/// <param name="Batch">The batch number, when known.</param>
/// <param name="Message">What was found.</param>
public sealed record Anomaly(DateTimeOffset At, int? Batch, string Message);

/// <summary>Settings of a diagnosis.</summary>
public sealed record DiagnosisOptions
{
    /// <summary>A batch at the provider longer than this is reported stuck (the providers' window is 24 h).</summary>
    public TimeSpan StuckAfter { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Most custom ids listed per error group.</summary>
    public int MaxCustomIdsPerGroup { get; init; } = 20;

    /// <summary>Most anomalies listed (the newest are kept).</summary>
    public int MaxAnomalies { get; init; } = 50;
}
