using System.Globalization;
using System.Text.RegularExpressions;
using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Storage;

namespace BatchPilot.Operations;

/// <summary>
/// <c>diagnose</c>: what went wrong with a job and what to do about it. <see cref="AnalyzeAsync"/> is a pure
/// function of the job, its batches, its history and one streamed pass over its items (memory stays flat:
/// only counts and the first custom ids of each error group are kept), so the CLI and the dashboard share it.
/// </summary>
public static partial class Diagnosis
{
    /// <summary>The history state the engine writes for unknown, duplicated or unreadable result lines.</summary>
    public const string AnomalyState = "Anomaly";

    /// <summary>Reads a job's batches, history and items from the store and analyses them.</summary>
    /// <param name="store">The job store.</param>
    /// <param name="job">The job.</param>
    /// <param name="now">The current time (for ages and the stuck threshold).</param>
    /// <param name="options">Thresholds and limits; defaults when null.</param>
    /// <param name="cancellationToken">Cancels the pass.</param>
    public static async Task<DiagnosisReport> RunAsync(IJobStore store, JobRecord job, DateTimeOffset now, DiagnosisOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        var batches = await store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false);
        var history = await store.GetHistoryAsync(job.Id, cancellationToken).ConfigureAwait(false);
        return await AnalyzeAsync(job, batches, history, store.ReadItemsAsync(job.Id, cancellationToken), now, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Analyses a job from its batches, history and a pass over its items (in seq order).</summary>
    /// <param name="job">The job.</param>
    /// <param name="batches">Its batches.</param>
    /// <param name="history">Its history, oldest first.</param>
    /// <param name="items">Its items in seq order, streamed; read once.</param>
    /// <param name="now">The current time.</param>
    /// <param name="options">Thresholds and limits; defaults when null.</param>
    /// <param name="cancellationToken">Cancels the pass.</param>
    public static async Task<DiagnosisReport> AnalyzeAsync(
        JobRecord job,
        IReadOnlyList<BatchRecord> batches,
        IReadOnlyList<HistoryEntry> history,
        IAsyncEnumerable<ItemRecord> items,
        DateTimeOffset now,
        DiagnosisOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(items);
        options ??= new DiagnosisOptions();

        var byId = batches.ToDictionary(b => b.Id);
        var validation = batches.ToDictionary(b => b.Id, b => ParseErrors(b.Errors));
        var wantedLines = new Dictionary<long, Dictionary<int, (string CustomId, long SourceRow)?>>();
        foreach (var (id, errors) in validation)
        {
            var lines = errors.Where(e => e.Line is > 0).Select(e => e.Line!.Value).Distinct().ToDictionary(l => l, _ => ((string, long)?)null);
            if (lines.Count > 0)
            {
                wantedLines[id] = lines;
            }
        }

        var perBatch = batches.ToDictionary(b => b.Id, _ => new BatchTally());
        var groups = new Dictionary<string, GroupTally>(StringComparer.Ordinal);
        long total = 0, succeeded = 0, failed = 0, expired = 0, cancelled = 0, pending = 0, inFlight = 0;

        await foreach (var item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            total++;
            BatchTally? tally = null;
            if (item.BatchId is { } bid && perBatch.TryGetValue(bid, out tally))
            {
                tally.Position++;
                if (tally.Position <= int.MaxValue && wantedLines.TryGetValue(bid, out var wanted) && wanted.ContainsKey((int)tally.Position))
                {
                    wanted[(int)tally.Position] = (item.CustomId, item.SourceRow);
                }
            }

            switch (item.Status)
            {
                case ItemStatus.Succeeded:
                    succeeded++;
                    if (tally is not null)
                    {
                        tally.Succeeded++;
                    }

                    continue;
                case ItemStatus.Pending:
                    pending++;
                    continue;
                case ItemStatus.InBatch:
                    inFlight++;
                    if (tally is not null)
                    {
                        tally.InFlight++;
                    }

                    continue;
                case ItemStatus.Failed:
                    failed++;
                    break;
                case ItemStatus.Expired:
                    expired++;
                    break;
                case ItemStatus.Cancelled:
                    cancelled++;
                    break;
            }

            var code = string.IsNullOrWhiteSpace(item.ErrorCode) ? DefaultCode(item.Status) : item.ErrorCode;
            if (tally is not null)
            {
                tally.Failed++;
                tally.Codes[code] = tally.Codes.GetValueOrDefault(code) + 1;
            }

            if (!groups.TryGetValue(code, out var group))
            {
                group = new GroupTally { SampleMessage = item.ErrorMessage };
                groups[code] = group;
            }

            group.Count++;
            group.SampleMessage ??= item.ErrorMessage;
            if (group.CustomIds.Count < options.MaxCustomIdsPerGroup)
            {
                group.CustomIds.Add(item.CustomId);
            }

            if (item.BatchId is { } b && byId.TryGetValue(b, out var batch))
            {
                group.Batches.Add(batch.Number);
            }
        }

        var context = new AdviceContext(job.Id, job.Spec.Provider, job.Spec.Model, []);
        var errorGroups = groups
            .OrderByDescending(g => g.Value.Count).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var batchIds = g.Value.Batches.Order().Select(n => batches.First(b => b.Number == n).ProviderBatchId).OfType<string>().ToList();
                return new ErrorGroup
                {
                    Code = g.Key,
                    Family = ErrorAdvice.FamilyOf(g.Key, g.Value.SampleMessage),
                    Count = g.Value.Count,
                    Rate = Rate(g.Value.Count, total),
                    SampleMessage = g.Value.SampleMessage,
                    CustomIds = g.Value.CustomIds,
                    MoreCustomIds = g.Value.Count - g.Value.CustomIds.Count,
                    Batches = [.. g.Value.Batches.Order()],
                    ResumedByDefault = ErrorAdvice.ResumedByDefault(g.Key),
                    Action = ErrorAdvice.ActionFor(g.Key, g.Value.SampleMessage, context with { ProviderBatchIds = batchIds }),
                };
            })
            .ToList();

        var batchReports = batches.Select(b => DiagnoseBatch(job, b, perBatch[b.Id], validation[b.Id], wantedLines.GetValueOrDefault(b.Id), groups, now, options)).ToList();
        var anomalies = history
            .Where(h => string.Equals(h.State, AnomalyState, StringComparison.Ordinal))
            .Select(h => new Anomaly(h.At, h.BatchId is { } id && byId.TryGetValue(id, out var b) ? b.Number : null, h.Reason))
            .TakeLast(options.MaxAnomalies)
            .ToList();
        var counts = new DiagnosisCounts { Total = total, Succeeded = succeeded, Failed = failed, Expired = expired, Cancelled = cancelled, Pending = pending, InFlight = inFlight };

        return new DiagnosisReport
        {
            JobId = job.Id,
            JobName = job.Name,
            Status = job.Status.ToString(),
            Provider = job.Spec.Provider,
            Model = job.Spec.Model,
            Mode = job.Spec.Mode.ToString().ToLowerInvariant(),
            Endpoint = job.Spec.Endpoint,
            CreatedAt = job.CreatedAt,
            CompletedAt = job.CompletedAt,
            DiagnosedAt = now,
            Summary = Summarize(job, counts, errorGroups, batchReports, anomalies),
            Items = counts,
            FailureRate = Rate(counts.NotSucceeded, total),
            Batches = batchReports,
            ErrorGroups = errorGroups,
            Anomalies = anomalies,
            Actions = NextSteps(job, counts, errorGroups, batchReports),
        };
    }

    private static BatchDiagnosis DiagnoseBatch(
        JobRecord job,
        BatchRecord b,
        BatchTally tally,
        IReadOnlyList<ValidationError> errors,
        Dictionary<int, (string CustomId, long SourceRow)?>? lines,
        Dictionary<string, GroupTally> groups,
        DateTimeOffset now,
        DiagnosisOptions options)
    {
        // A provider line number names the Nth request of the batch input file, which is the Nth item of the
        // batch in seq order, as long as every item of the batch is still on this attempt.
        if (lines is not null && tally.Position == b.RequestCount)
        {
            errors = errors.Select(e => e.Line is { } l && lines.TryGetValue(l, out var hit) && hit is { } h ? e with { CustomId = h.CustomId, SourceRow = h.SourceRow } : e).ToList();
        }

        var atProvider = b.State is BatchState.Submitted;
        var since = b.SubmittedAt ?? b.SubmittingAt ?? b.CreatedAt;
        var age = atProvider ? now - since : (TimeSpan?)null;
        var stuck = age is { } a && a > options.StuckAfter;
        var pid = b.ProviderBatchId ?? "(no id yet)";
        var resume = $"batchpilot resume {job.Id}";
        var provider = ErrorAdvice.DisplayName(job.Spec.Provider);
        string? problem = null;
        RecommendedAction action;
        var dominant = tally.Codes.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Key).FirstOrDefault();
        var context = new AdviceContext(job.Id, job.Spec.Provider, job.Spec.Model, b.ProviderBatchId is null ? [] : [b.ProviderBatchId]);

        switch (b.State)
        {
            case BatchState.Planned when b.NotBefore is { } due && b.Resubmits > 0:
                // The engine planned it again after the provider's enqueued-token queue was full.
                problem = $"{provider} refused it because its enqueued-token queue for {job.Spec.Model} was full (re-submitted {Plural(b.Resubmits, "time")} so far).";
                action = new RecommendedAction(ActionKinds.Wait,
                    due > now
                        ? $"Nothing is lost: it is sent again after {due.ToUniversalTime():yyyy-MM-dd HH:mm} UTC by 'batchpilot watch {job.Id}' (or any run, resume or status --refresh of the job). To avoid this, give the limit as --max-batch-tokens or lower --batch-size."
                        : $"Nothing is lost: it is due to be sent again; 'batchpilot watch {job.Id}' sends it and follows it. To avoid this, give the limit as --max-batch-tokens or lower --batch-size.",
                    $"batchpilot watch {job.Id}");
                break;
            case BatchState.Planned:
                action = new RecommendedAction(ActionKinds.Resume, $"Not sent yet: '{resume}' (or rerunning the same 'batchpilot run' command) sends it.", resume);
                break;
            case BatchState.Submitting:
                problem = "A submission was interrupted; the batch may or may not exist at the provider.";
                action = new RecommendedAction(ActionKinds.Resume, $"'{resume}' checks whether it reached the provider and continues; it is never sent twice.", resume);
                break;
            case BatchState.Submitted when stuck:
                problem = $"Still {b.ProviderStatus ?? "submitted"} {FormatAge(age!.Value)} after submission, past the provider's 24 h window.";
                action = new RecommendedAction(ActionKinds.ContactProvider,
                    $"Contact {provider} support with batch id {pid}. 'batchpilot cancel {job.Id}' stops it and collects the partial results; resume sends the rest again.");
                break;
            case BatchState.Submitted:
                action = new RecommendedAction(ActionKinds.Wait,
                    $"Wait: {provider} is processing it ({b.ProviderStatus ?? "submitted"} for {FormatAge(age!.Value)}; batches take up to 24 h). Follow it with 'batchpilot watch {job.Id}'.",
                    $"batchpilot watch {job.Id}");
                break;
            case BatchState.Ended:
                problem = "Ended at the provider, but the results are not applied yet.";
                action = new RecommendedAction(ActionKinds.Collect, $"'batchpilot collect {job.Id}' fetches and applies the results.", $"batchpilot collect {job.Id}");
                break;
            case BatchState.Rejected:
                problem = "The provider refused to create the batch" + (b.Errors is null ? "." : ": " + OneLine(b.Errors));
                action = dominant is not null
                    ? ErrorAdvice.ActionFor(dominant, groups.GetValueOrDefault(dominant)?.SampleMessage, context)
                    : new RecommendedAction(ActionKinds.ContactProvider, $"Contact {provider} with the error above.");
                break;
            default:
                if (string.Equals(b.ProviderStatus, "completed", StringComparison.Ordinal) && b.OutputFileId is null && b.ErrorFileId is null && b.RequestCount > 0)
                {
                    problem = $"{provider} reported the batch completed but gave no output or error file.";
                }
                else if (errors.Count > 0)
                {
                    problem = "The batch failed validation at the provider; none of its requests ran.";
                }
                else if (b.ProviderStatus is "expired")
                {
                    problem = "The batch expired before all its requests ran.";
                }
                else if (b.ProviderStatus is "cancelled" or "canceled")
                {
                    problem = "The batch was cancelled.";
                }

                action = dominant is not null
                    ? ErrorAdvice.ActionFor(dominant, groups.GetValueOrDefault(dominant)?.SampleMessage, context)
                    : new RecommendedAction(ActionKinds.None, "Nothing to do.");
                break;
        }

        var ended = tally.Succeeded + tally.Failed;
        return new BatchDiagnosis
        {
            Number = b.Number,
            State = b.State.ToString(),
            ProviderBatchId = b.ProviderBatchId,
            ProviderStatus = b.ProviderStatus,
            Requests = b.RequestCount,
            ProviderDone = b.DoneCount,
            ProviderFailed = b.FailedCount,
            ItemsSucceeded = tally.Succeeded,
            ItemsFailed = tally.Failed,
            ItemsInFlight = tally.InFlight,
            FailureRate = Rate(tally.Failed, ended),
            CreatedAt = b.CreatedAt,
            SubmittingAt = b.SubmittingAt,
            SubmittedAt = b.SubmittedAt,
            EndedAt = b.EndedAt,
            CollectedAt = b.CollectedAt,
            AgeSeconds = age is { } x ? Math.Round(x.TotalSeconds, 1) : null,
            Stuck = stuck,
            InputFileId = b.InputFileId,
            OutputFileId = b.OutputFileId,
            ErrorFileId = b.ErrorFileId,
            ValidationErrors = errors,
            Problem = problem,
            Action = action,
        };
    }

    private static List<RecommendedAction> NextSteps(JobRecord job, DiagnosisCounts counts, List<ErrorGroup> groups, List<BatchDiagnosis> batches)
    {
        var steps = new List<RecommendedAction>();
        steps.AddRange(batches.Where(b => b.Stuck).Select(b => b.Action));
        var waiting = batches.Count(b => b.Action.Kind == ActionKinds.Wait && b.State == nameof(BatchState.Submitted));
        if (waiting > 0)
        {
            steps.Add(new RecommendedAction(ActionKinds.Wait,
                $"{Plural(waiting, "batch", "batches")} still at the provider: wait, and follow with 'batchpilot watch {job.Id}'.", $"batchpilot watch {job.Id}"));
        }

        steps.AddRange(batches.Where(b => b.Action.Kind == ActionKinds.Wait && b.State == nameof(BatchState.Planned)).Select(b => b.Action with { Text = $"Batch {b.Number}: {b.Problem} {b.Action.Text}" }));

        if (batches.Any(b => b.Action.Kind == ActionKinds.Collect))
        {
            steps.Add(batches.First(b => b.Action.Kind == ActionKinds.Collect).Action);
        }

        var unsent = batches.Count(b => b.State is nameof(BatchState.Planned) or nameof(BatchState.Submitting) && b.Action.Kind == ActionKinds.Resume);
        if (unsent > 0 || (counts.Pending > 0 && job.Status != JobStatus.Preparing))
        {
            steps.Add(new RecommendedAction(ActionKinds.Resume,
                $"Some work was never sent (or its submission was interrupted): 'batchpilot resume {job.Id}' sends it.", $"batchpilot resume {job.Id}"));
        }

        if (job.Status == JobStatus.Preparing)
        {
            steps.Add(new RecommendedAction(ActionKinds.Resume, "The job is still reading its input: rerun the original 'batchpilot run' command to finish it."));
        }

        // Actions that are not a plain resume come first, in group order; then one resume for everything resume picks up.
        foreach (var g in groups.Where(g => g.Action.Kind is not ActionKinds.Resume))
        {
            if (!steps.Any(s => s.Kind == g.Action.Kind && s.Text == g.Action.Text))
            {
                steps.Add(g.Action with { Text = $"{Plural(g.Count, "item")} with {g.Code}: {g.Action.Text}" });
            }
        }

        var resumable = groups.Where(g => g.Action.Kind == ActionKinds.Resume).ToList();
        if (resumable.Count > 0)
        {
            var n = resumable.Sum(g => g.Count);
            var codes = string.Join(", ", resumable.Select(g => g.Code));
            var after = waiting > 0 ? " once the batches in flight have ended" : string.Empty;
            steps.Add(new RecommendedAction(ActionKinds.Resume,
                $"{Plural(n, "item")} failed for reasons a retry can fix ({codes}): 'batchpilot resume {job.Id}' sends them again{after}.", $"batchpilot resume {job.Id}"));
        }

        if (steps.Count == 0)
        {
            steps.Add(counts.Total > 0 && counts.Succeeded == counts.Total
                ? new RecommendedAction(ActionKinds.None, "Nothing to do: every item succeeded.")
                : new RecommendedAction(ActionKinds.None, "Nothing to do."));
        }

        return steps;
    }

    private static string Summarize(JobRecord job, DiagnosisCounts c, List<ErrorGroup> groups, List<BatchDiagnosis> batches, List<Anomaly> anomalies)
    {
        var parts = new List<string>
        {
            $"{Num(c.Succeeded)} of {Num(c.Total)} items succeeded",
        };
        if (c.NotSucceeded > 0)
        {
            parts.Add($"{Num(c.NotSucceeded)} did not ({Pct(c.NotSucceeded, c.Total)}) in {Plural(groups.Count, "error group")}");
        }

        if (c.InFlight + c.Pending > 0)
        {
            parts.Add($"{Num(c.InFlight + c.Pending)} still pending");
        }

        var stuck = batches.Count(b => b.Stuck);
        if (stuck > 0)
        {
            parts.Add($"{Plural(stuck, "batch", "batches")} stuck");
        }

        if (anomalies.Count > 0)
        {
            parts.Add($"{Plural(anomalies.Count, "result-file anomaly", "result-file anomalies")}");
        }

        return $"Job {job.Id} is {job.Status}: {string.Join(", ", parts)}.";
    }

    /// <summary>Parses a batch's stored errors (one per line, <c>code [line N]: message</c>).</summary>
    public static IReadOnlyList<ValidationError> ParseErrors(string? errors)
    {
        if (string.IsNullOrWhiteSpace(errors))
        {
            return [];
        }

        var list = new List<ValidationError>();
        foreach (var raw in errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var m = ErrorLine().Match(raw);
            list.Add(m.Success
                ? new ValidationError(m.Groups["code"].Value, m.Groups["msg"].Value, m.Groups["line"].Success ? int.Parse(m.Groups["line"].Value, CultureInfo.InvariantCulture) : null, null, null)
                : new ValidationError(null, raw, null, null, null));
        }

        return list;
    }

    [GeneratedRegex(@"^(?<code>[A-Za-z0-9_.\-]+)(?: \[line (?<line>\d{1,9})\])?: (?<msg>.*)$")]
    private static partial Regex ErrorLine();

    private static string DefaultCode(ItemStatus status) => status switch
    {
        ItemStatus.Expired => "batch_expired",
        ItemStatus.Cancelled => "batch_cancelled",
        _ => "unknown_error",
    };

    private static double Rate(long part, long whole) => whole == 0 ? 0 : Math.Round((double)part / whole, 4);

    private static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Pct(long part, long whole) => whole == 0 ? "0%" : ((double)part / whole).ToString("0.#%", CultureInfo.InvariantCulture);

    private static string Plural(long n, string one, string? many = null) => $"{Num(n)} {(n == 1 ? one : many ?? one + "s")}";

    private static string OneLine(string s) => s.ReplaceLineEndings("; ").Trim();

    /// <summary>An age as users read it: <c>25 min</c>, <c>3 h 05 min</c>, <c>2 d 1 h</c>.</summary>
    public static string FormatAge(TimeSpan t)
    {
        if (t < TimeSpan.Zero)
        {
            t = TimeSpan.Zero;
        }

        if (t.TotalMinutes < 1)
        {
            return $"{(int)t.TotalSeconds} s";
        }

        if (t.TotalHours < 1)
        {
            return $"{(int)t.TotalMinutes} min";
        }

        if (t.TotalDays < 2)
        {
            return $"{(int)t.TotalHours} h {t.Minutes:00} min";
        }

        return $"{(int)t.TotalDays} d {t.Hours} h";
    }

    private sealed class BatchTally
    {
        public long Position { get; set; }

        public long Succeeded { get; set; }

        public long Failed { get; set; }

        public long InFlight { get; set; }

        public Dictionary<string, long> Codes { get; } = new(StringComparer.Ordinal);
    }

    private sealed class GroupTally
    {
        public long Count { get; set; }

        public string? SampleMessage { get; set; }

        public List<string> CustomIds { get; } = [];

        public SortedSet<int> Batches { get; } = [];
    }
}
