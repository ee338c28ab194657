using System.Globalization;
using BatchPilot.Batches;
using BatchPilot.Errors;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Planning;
using BatchPilot.Pricing;
using BatchPilot.Providers;
using BatchPilot.Storage;

namespace BatchPilot.Running;

/// <summary>Engine settings.</summary>
public sealed record EngineOptions
{
    /// <summary>How long a submission lease holds without renewal.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How far back to look for a batch created by a crashed submission (clock skew margin).</summary>
    public TimeSpan ReconcileMargin { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Result lines applied per store transaction.</summary>
    public int ApplyChunk { get; init; } = 5000;

    /// <summary>Attempts of one batch create on transient failures.</summary>
    public int CreateAttempts { get; init; } = 5;

    /// <summary>First delay between create attempts (doubles each time).</summary>
    public TimeSpan CreateRetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>First wait before re-submitting a batch refused because the provider's enqueued-token queue was full (doubles each time).</summary>
    public TimeSpan TokenLimitDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Longest wait between re-submissions of a refused batch.</summary>
    public TimeSpan TokenLimitMaxDelay { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How many times a batch refused for a full queue is re-submitted before its items are failed.</summary>
    public int MaxResubmits { get; init; } = 12;

    /// <summary>Most estimated input tokens per batch (the provider's per-model enqueued-token limit), if configured.</summary>
    public long? MaxTokensPerBatch { get; init; }

    /// <summary>Consecutive interrupted downloads of one batch before the engine reports a provider error.</summary>
    public int MaxCollectInterruptions { get; init; } = 5;

    /// <summary>Prices, the daily budget and the response cache mode.</summary>
    public CostOptions Costs { get; init; } = new();
}

/// <summary>
/// Moves one job's batches through their lifecycle: plan, submit (crash-safe), reconcile, poll, collect.
/// Every step is idempotent, so any process may be killed at any instant and a rerun continues.
/// </summary>
public sealed class JobEngine
{
    /// <summary>Error codes a retry cannot fix; <c>resume</c> skips them unless told otherwise.</summary>
    public static readonly IReadOnlyList<string> NonRetryableCodes =
    [
        "invalid_request_error", "context_length_exceeded", "invalid_prompt", "content_policy_violation", "missing_required_parameter",
        "model_not_found", "invalid_value", "unsupported_parameter", "unsupported_value", "http_400", "http_404", "http_413", "http_422",
        "batch_rejected",
    ];

    private readonly IJobStore _store;
    private readonly IBatchClient _client;
    private readonly TimeProvider _time;
    private readonly EngineOptions _options;
    private readonly IEngineObserver _observer;
    private readonly Dictionary<long, int> _interruptions = [];
    private readonly BudgetGuard _budget;
    private readonly HashSet<long> _refusalsShown = [];

    /// <summary>Creates an engine.</summary>
    public JobEngine(IJobStore store, IBatchClient client, TimeProvider time, IEngineObserver? observer = null, EngineOptions? options = null)
    {
        _store = store;
        _client = client;
        _time = time;
        _observer = observer ?? NullObserver.Instance;
        _options = options ?? new EngineOptions();
        _budget = new BudgetGuard(store, time, _observer, _options.Costs);
    }

    /// <summary>
    /// Set when the last submission pass stopped because the next batch would pass a budget (its batches stay planned
    /// and are tried again on the next pass); null when the last pass was not held back.
    /// </summary>
    public BudgetRefusal? BudgetStop { get; private set; }

    /// <summary>Items this engine answered from the response cache while planning.</summary>
    public long CacheHits { get; private set; }

    /// <summary>Cuts the job's pending items into planned batches within the provider's limits.</summary>
    public async Task<int> PlanAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var planned = 0;
        while (true)
        {
            // Another process (the same command run twice at once) planned some of the items of a batch: the pass
            // starts again from the items still pending. Each conflict means the other process planned items, so the
            // pending items dwindle and the passes end.
            var (count, conflict) = await PlanPassAsync(job, cancellationToken).ConfigureAwait(false);
            planned += count;
            if (!conflict)
            {
                return planned;
            }

            _observer.Info("Another process planned some of these items at the same time; planning the items still pending.");
        }
    }

    private async Task<(int Planned, bool Conflict)> PlanPassAsync(JobRecord job, CancellationToken cancellationToken)
    {
        var factory = new RequestFactory(job.Spec, job.Columns);
        var limits = _client.Limits;
        // A batch file's requests are sent as they are, and its output needs each provider line: never answered from the cache.
        var cache = job.Spec.Kind == JobKind.Raw ? CacheMode.Off : _options.Costs.Cache;
        var planned = 0;
        var seqs = new List<long>();
        var keys = cache == CacheMode.Off ? null : new List<string>();
        long bytes = 0;
        long tokens = 0;
        long after = 0;
        long hits = 0;
        while (true)
        {
            var page = await _store.ReadPendingItemsAsync(job.Id, after, 5000, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            var sendable = await ImagePreflight.FilterAsync(_store, job, factory, page, _observer, cancellationToken).ConfigureAwait(false);
            var requests = sendable.Select(factory.Create).ToArray();
            var pageKeys = keys is null ? null : Array.ConvertAll(requests, r => ResponseCache.Key(job.Spec, r.Request));

            // Items answered from the cache leave Pending here, before any batch of this page is planned.
            var answered = cache == CacheMode.ReadWrite ? await ResponseCache.AnswerAsync(_store, job, sendable, pageKeys!, cancellationToken).ConfigureAwait(false) : null;
            for (var i = 0; i < sendable.Count; i++)
            {
                if (answered is not null && answered[i])
                {
                    hits++;
                    continue;
                }

                var item = sendable[i];
                var request = requests[i];
                var size = _client.MeasureRequest(request);
                if (size > limits.MaxBytes)
                {
                    throw new InputException(
                        $"the request of row {item.SourceRow.ToString(CultureInfo.InvariantCulture)} is {size.ToString(CultureInfo.InvariantCulture)} bytes, more than a whole batch may hold ({limits.MaxBytes.ToString(CultureInfo.InvariantCulture)} bytes)",
                        file: job.Spec.InputPath, row: item.SourceRow, hint: "shorten that row's text or the prompt");
                }

                var estimate = EstimateTokens(size, request.Request, job.Spec.Provider);
                if (seqs.Count > 0 && (seqs.Count >= limits.MaxRequests || bytes + size > limits.MaxBytes
                    || (_options.MaxTokensPerBatch is { } maxTokens && tokens + estimate > maxTokens)))
                {
                    if (!await CreatePlannedAsync(job, seqs, keys, bytes, cancellationToken).ConfigureAwait(false))
                    {
                        return Done(planned, conflict: true);
                    }

                    planned++;
                    seqs.Clear();
                    keys?.Clear();
                    bytes = 0;
                    tokens = 0;
                }

                seqs.Add(item.Seq);
                keys?.Add(pageKeys![i]);
                bytes += size;
                tokens += estimate;
            }

            after = page[^1].Seq;
        }

        if (seqs.Count == 0)
        {
            return Done(planned, conflict: false);
        }

        return await CreatePlannedAsync(job, seqs, keys, bytes, cancellationToken).ConfigureAwait(false) ? Done(planned + 1, conflict: false) : Done(planned, conflict: true);

        (int Planned, bool Conflict) Done(int count, bool conflict)
        {
            if (hits > 0)
            {
                CacheHits += hits;
                _observer.Info($"{hits.ToString(CultureInfo.InvariantCulture)} item(s) answered from the response cache: nothing sent for them, no cost.");
            }

            return (count, conflict);
        }
    }

    /// <summary>A conservative estimate of a request's input tokens from its serialized size (about 4 bytes per token).</summary>
    internal static long EstimateTokens(long bytes) => Math.Max(1, bytes / 4);

    /// <summary>
    /// The same estimate for a request with images: their base64 text is not counted as text, their tokens by the
    /// provider's image rule are (<see cref="Pricing.TokenCounter.CountImage"/>).
    /// </summary>
    internal static long EstimateTokens(long bytes, LlmRequest request, string provider)
    {
        if (request.Images.Count == 0)
        {
            return EstimateTokens(bytes);
        }

        long imageBytes = 0, imageTokens = 0;
        foreach (var image in request.Images)
        {
            imageBytes += image.Kind == ImageSourceKind.Url ? 0 : image.Base64Length;
            imageTokens += Pricing.TokenCounter.CountImage(request.Model, image.Width, image.Height, provider);
        }

        return EstimateTokens(Math.Max(0, bytes - imageBytes)) + imageTokens;
    }

    private static string NewToken(string jobId) => "bp-" + jobId + "-" + Guid.NewGuid().ToString("N")[..12];

    private async Task<bool> CreatePlannedAsync(JobRecord job, List<long> seqs, List<string>? keys, long bytes, CancellationToken cancellationToken)
    {
        var token = NewToken(job.Id);
        BatchRecord batch;
        try
        {
            batch = await _store.CreatePlannedBatchAsync(job.Id, new PlannedBatch { Seqs = seqs, CacheKeys = keys, Bytes = bytes, Token = token }, cancellationToken).ConfigureAwait(false);
        }
        catch (PlanningConflictException)
        {
            // Nothing of this batch was stored: another process planned some of its items first.
            return false;
        }

        Checkpoints.Hit(Checkpoints.Planned);
        _observer.Info($"Batch {batch.Number} planned: {seqs.Count} requests, {FormatBytes(bytes)}.");
        return true;
    }

    /// <summary>
    /// Submits every planned batch of the job, one after the other. With a budget (the job's or the daily one), each
    /// batch's estimate is reserved as it is claimed; the pass stops at the first batch that would pass a budget
    /// (see <see cref="BudgetStop"/>), leaving it and the later ones planned.
    /// </summary>
    /// <exception cref="InputException">A budget applies, a batch is to be submitted, and the model has no price.</exception>
    public async Task<int> SubmitPlannedAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);

        // The budget may have been set or raised since the caller read the job.
        job = await _store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? job;
        BudgetStop = null;
        var submitted = 0;
        var batches = await _store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false);
        foreach (var batch in batches)
        {
            // A planned chunk of synchronous requests belongs to the sync runner, never to a batch API.
            if (batch.State == BatchState.Planned && !SyncRunner.IsSyncChunk(batch) && (batch.NotBefore is null || batch.NotBefore <= _time.GetUtcNow()))
            {
                if (await SubmitAsync(job, batch, batches, cancellationToken).ConfigureAwait(false))
                {
                    submitted++;
                }
                else if (BudgetStop is not null)
                {
                    break;
                }
            }
        }

        return submitted;
    }

    private async Task<bool> SubmitAsync(JobRecord job, BatchRecord batch, IReadOnlyList<BatchRecord> all, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var budgeted = _budget.Applies(job);
        decimal? amount = budgeted ? await EstimateAsync(job, batch, cancellationToken).ConfigureAwait(false) : null;

        // The claim and the reservation of the batch's estimate are one transaction, refused when a budget would be passed.
        var claim = await _store.TryReserveAsync(
            batch.Id, [BatchState.Planned], BatchState.Submitting,
            new BatchUpdate { LeaseOwner = ProcessIdentity.Current, LeaseUntil = now + _options.LeaseDuration, SubmittingAt = now },
            _budget.Limits(job, amount),
            $"Submitting batch {batch.Number} to {_client.Provider}{(amount is { } a ? $" ({Budgets.Money(a)} reserved against the budget)" : string.Empty)}.", cancellationToken).ConfigureAwait(false);
        if (!claim.Reserved)
        {
            if (claim.RefusedBy is { } kind)
            {
                // This batch and the planned ones after it (the earlier ones of this pass were just submitted).
                var held = all.Where(b => b.State == BatchState.Planned && b.Number >= batch.Number).Sum(b => (long)b.RequestCount);
                BudgetStop = _budget.Refusal(job, kind, claim.Spend, amount ?? 0, batch.RequestCount, held, sync: false);
                if (_refusalsShown.Add(batch.Id))
                {
                    _observer.Info($"Batch {batch.Number} ({batch.RequestCount} requests) {BudgetStop.Note}");
                }
            }

            return false;
        }

        Checkpoints.Hit(Checkpoints.SubmitClaimed);
        if (budgeted)
        {
            await _budget.CheckAlertAsync(job, cancellationToken).ConfigureAwait(false);
        }

        batch = (await _store.GetBatchAsync(batch.Id, cancellationToken).ConfigureAwait(false))!;
        var delay = _options.CreateRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var staged = await StageAsync(job, batch, cancellationToken).ConfigureAwait(false);
                Checkpoints.Hit(Checkpoints.SubmitStaged);
                var created = await _client.CreateAsync(staged, batch.Token, cancellationToken).ConfigureAwait(false);
                Checkpoints.Hit(Checkpoints.SubmitCreated);
                await AdoptAsync(batch, created, "created", cancellationToken).ConfigureAwait(false);
                Checkpoints.Hit(Checkpoints.SubmitRecorded);
                if (_client.Provider == ProviderNames.Anthropic)
                {
                    await _client.CleanupStagedAsync(staged, cancellationToken).ConfigureAwait(false);
                }

                return true;
            }
            catch (ProviderException ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (ex.IsAuthError)
                {
                    // Nothing was created with a refused key; listing would be refused too.
                    await ReleaseAsync(batch, "Submission stopped: the provider refused the API key.", cancellationToken).ConfigureAwait(false);
                    throw KeyRefused(ex);
                }

                // The create may have reached the provider: look for it before anything is sent again.
                var existing = await FindExistingAsync(batch, cancellationToken).ConfigureAwait(false);
                if (existing is not null)
                {
                    await AdoptAsync(batch, existing, "found after an ambiguous create failure", cancellationToken).ConfigureAwait(false);
                    return true;
                }

                if (ex.IsPermanent)
                {
                    await RejectAsync(batch, ex, cancellationToken).ConfigureAwait(false);
                    return false;
                }

                if (attempt >= _options.CreateAttempts)
                {
                    await ReleaseAsync(batch, $"Submission failed {attempt} times ({ex.Message}); it will be tried again on the next run.", cancellationToken).ConfigureAwait(false);
                    throw;
                }

                _observer.Warn($"Batch {batch.Number}: {ex.Message}. Trying again in {delay.TotalSeconds:0} s (attempt {attempt + 1} of {_options.CreateAttempts}).");
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay *= 2;
                await _store.UpdateBatchAsync(batch.Id, new BatchUpdate { LeaseUntil = _time.GetUtcNow() + _options.LeaseDuration }, cancellationToken).ConfigureAwait(false);
                batch = (await _store.GetBatchAsync(batch.Id, cancellationToken).ConfigureAwait(false))!;
            }
        }
    }

    /// <summary>
    /// The estimate of a planned batch, as <c>batchpilot estimate</c> makes it: input tokens of its requests from the
    /// tokenizer, expected output from earlier runs or max tokens, Batch API prices. Computed once per batch and kept on
    /// it, so a batch held back by a budget is not tokenized again on every pass.
    /// </summary>
    private async Task<decimal> EstimateAsync(JobRecord job, BatchRecord batch, CancellationToken cancellationToken)
    {
        if (batch.EstimateUsd is { } known)
        {
            return known;
        }

        var factory = new RequestFactory(job.Spec, job.Columns);
        long input = 0;
        await foreach (var item in _store.ReadBatchItemsAsync(batch.Id, cancellationToken).ConfigureAwait(false))
        {
            input += TokenCounter.CountRequest(factory.Create(item).Request, job.Spec.Provider);
        }

        var estimate = await _budget.EstimateAsync(job, batch.RequestCount, input, batchApi: true, cancellationToken).ConfigureAwait(false);
        await _store.UpdateBatchAsync(batch.Id, new BatchUpdate { EstimateUsd = estimate }, cancellationToken).ConfigureAwait(false);
        return estimate;
    }

    /// <summary>The one-line error for a key the provider refused (401/403).</summary>
    public static InputException KeyRefused(ProviderException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        var variable = ex.Provider == ProviderNames.Anthropic ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
        var yaml = ex.Provider == ProviderNames.Anthropic ? "anthropic_api_key" : "openai_api_key";
        return new InputException($"{ex.Provider} refused the API key (HTTP {ex.StatusCode})", ex,
            hint: $"check the key in {variable} or api_keys.{yaml} in config/user.yaml ('batchpilot doctor' tests it); nothing was sent", exitCode: ExitCodes.MissingKey);
    }

    private async Task<string> StageAsync(JobRecord job, BatchRecord batch, CancellationToken cancellationToken)
    {
        if (batch.InputFileId is { } previous && await _client.IsStagedAsync(previous, cancellationToken).ConfigureAwait(false))
        {
            return previous;
        }

        var factory = new RequestFactory(job.Spec, job.Columns);
        var staged = await _client.StageAsync(
            new BatchStaging { Token = batch.Token, Count = batch.RequestCount, Requests = Requests(batch.Id, factory, cancellationToken) },
            cancellationToken).ConfigureAwait(false);
        await _store.UpdateBatchAsync(batch.Id, new BatchUpdate { InputFileId = staged }, cancellationToken).ConfigureAwait(false);
        return staged;
    }

    private async IAsyncEnumerable<IdentifiedRequest> Requests(long batchId, RequestFactory factory, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var item in _store.ReadBatchItemsAsync(batchId, cancellationToken).ConfigureAwait(false))
        {
            var (request, problem) = factory.CreateForSending(item);
            if (problem is not null)
            {
                // The image was checked when the batch was planned; never send the request without it.
                throw new InputException(problem.Message + "; it was usable when the batch was planned", field: "--image-column",
                    hint: "put the file back and rerun the same command: nothing of this batch was sent");
            }

            yield return request;
        }
    }

    private async Task AdoptAsync(BatchRecord batch, ProviderBatch created, string how, CancellationToken cancellationToken)
    {
        var ok = await _store.TryTransitionBatchAsync(
            batch.Id, [BatchState.Submitting], BatchState.Submitted,
            new BatchUpdate
            {
                ProviderBatchId = created.Id,
                ProviderStatus = created.Status,
                SubmittedAt = _time.GetUtcNow(),
                ClearLease = true,
                ProviderJson = created.RawJson,
            },
            $"Provider batch {created.Id} {how} ({batch.RequestCount} requests).", cancellationToken).ConfigureAwait(false);
        if (ok)
        {
            _observer.Info($"Batch {batch.Number} submitted as {created.Id} ({batch.RequestCount} requests).");
        }
    }

    private async Task ReleaseAsync(BatchRecord batch, string reason, CancellationToken cancellationToken) =>
        await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Submitting], BatchState.Planned, new BatchUpdate { ClearLease = true, ClearReservation = true }, reason, cancellationToken).ConfigureAwait(false);

    private async Task RejectAsync(BatchRecord batch, ProviderException ex, CancellationToken cancellationToken)
    {
        var code = ex.ErrorCode ?? "batch_rejected";
        var n = await _store.EndRemainingAsync(batch.Id, ItemStatus.Failed, code, "The provider refused the batch: " + ex.Message, cancellationToken).ConfigureAwait(false);
        await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Submitting], BatchState.Rejected,
            new BatchUpdate { ClearLease = true, ClearReservation = true, Errors = ex.Message, EndedAt = _time.GetUtcNow(), CollectedAt = _time.GetUtcNow() },
            $"The provider refused the batch: {ex.Message}", cancellationToken).ConfigureAwait(false);
        _observer.Warn($"Batch {batch.Number} was refused by {ex.Provider}: {ex.Message} ({n} items failed).");
    }

    /// <summary>Looks for a provider batch created for this record by an earlier (crashed or failed) attempt.</summary>
    private async Task<ProviderBatch?> FindExistingAsync(BatchRecord batch, CancellationToken cancellationToken)
    {
        var since = (batch.SubmittingAt ?? batch.CreatedAt) - _options.ReconcileMargin;
        ProviderBatch? best = null;
        try
        {
            await foreach (var pb in _client.ListRecentAsync(since, cancellationToken).ConfigureAwait(false))
            {
                if (pb.Metadata is { } md && md.TryGetValue("batchpilot_token", out var token))
                {
                    if (token == batch.Token)
                    {
                        return pb;
                    }

                    continue;
                }

                // Anthropic batches carry no metadata: match on request count and time, never a batch already ours.
                if (_client.Provider == ProviderNames.Anthropic && pb.Total == batch.RequestCount
                    && !await _store.IsProviderBatchKnownAsync(pb.Id, cancellationToken).ConfigureAwait(false))
                {
                    if (best is null || (pb.CreatedAt ?? DateTimeOffset.MaxValue) < (best.CreatedAt ?? DateTimeOffset.MaxValue))
                    {
                        best = pb;
                    }
                }
            }
        }
        catch (ProviderException ex)
        {
            _observer.Warn($"Could not list provider batches to reconcile batch {batch.Number}: {ex.Message}");
            throw;
        }

        return best;
    }

    /// <summary>
    /// Settles batches left in Submitting by a process that died: adopts the provider batch created for them,
    /// or returns them to Planned when none exists. Runs before anything is sent again.
    /// </summary>
    public async Task<int> ReconcileAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var settled = await SyncRunner.SettleInterruptedAsync(_store, job, _time, _options.Costs.Prices, cancellationToken).ConfigureAwait(false);
        foreach (var batch in await _store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            if (batch.State != BatchState.Submitting)
            {
                continue;
            }

            var leaseOver = batch.LeaseUntil is null || batch.LeaseUntil < _time.GetUtcNow();
            if (!leaseOver && !ProcessIdentity.IsDead(batch.LeaseOwner))
            {
                continue;
            }

            var existing = await FindExistingAsync(batch, cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                await AdoptAsync(batch, existing, "found by reconciliation after an interrupted submission", cancellationToken).ConfigureAwait(false);
                _observer.Info($"Batch {batch.Number}: an interrupted submission had reached the provider as {existing.Id}; continuing with it.");
            }
            else
            {
                await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Submitting], BatchState.Planned, new BatchUpdate { ClearLease = true, ClearReservation = true },
                    "The interrupted submission never reached the provider; the batch will be submitted again (its budget reservation is released).", cancellationToken).ConfigureAwait(false);
                _observer.Info($"Batch {batch.Number}: an interrupted submission never reached the provider; it will be sent again.");
            }

            settled++;
        }

        return settled;
    }

    /// <summary>Refreshes every submitted batch from the provider; ended ones move to Ended. Returns the batches.</summary>
    public async Task<IReadOnlyList<BatchRecord>> PollAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        foreach (var batch in await _store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            if (batch.State != BatchState.Submitted || batch.ProviderBatchId is null || batch.ProviderStatus == SyncRunner.SyncStatus)
            {
                continue;
            }

            var pb = await _client.GetAsync(batch.ProviderBatchId, cancellationToken).ConfigureAwait(false);
            var update = ToUpdate(pb);
            if (pb.End == BatchEnd.None)
            {
                await _store.UpdateBatchAsync(batch.Id, update, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Submitted], BatchState.Ended, update with { EndedAt = _time.GetUtcNow() },
                    $"Provider batch {pb.Id} ended with status {pb.Status} ({pb.Done}/{pb.Total} done, {pb.FailedCount} failed).", cancellationToken).ConfigureAwait(false);
                _observer.Info($"Batch {batch.Number} ({pb.Id}) is {pb.Status}.");
            }

            Checkpoints.Hit(Checkpoints.Polled);
        }

        return await _store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false);
    }

    private static BatchUpdate ToUpdate(ProviderBatch pb) => new()
    {
        ProviderStatus = pb.Status,
        DoneCount = pb.Done,
        FailedCount = pb.FailedCount,
        OutputFileId = pb.OutputFileId,
        ErrorFileId = pb.ErrorFileId,
        Errors = pb.Errors.Count == 0 ? null : string.Join("\n", pb.Errors.Select(e => $"{e.Code ?? "error"}{(e.Line is { } l ? " [line " + l.ToString(CultureInfo.InvariantCulture) + "]" : string.Empty)}: {e.Message}")),
        ProviderJson = pb.RawJson,
    };

    /// <summary>Applies the results of every ended batch; each item ends in exactly one final state.</summary>
    public async Task<CollectReport> CollectAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var report = new CollectReport();
        var schema = AnswerSchema.ForJob(job.Spec);
        foreach (var batch in await _store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            if (batch.State == BatchState.Ended && batch.ProviderBatchId is not null)
            {
                try
                {
                    await CollectBatchAsync(job, batch, report, schema, cancellationToken).ConfigureAwait(false);
                    _interruptions.Remove(batch.Id);
                }
                catch (ProviderException ex) when (!ex.IsAuthError && !cancellationToken.IsCancellationRequested)
                {
                    // Applying results is idempotent: the next pass downloads the batch again.
                    var n = _interruptions[batch.Id] = _interruptions.GetValueOrDefault(batch.Id) + 1;
                    report.Interrupted++;
                    if (n >= _options.MaxCollectInterruptions)
                    {
                        throw new ProviderException(ex.Provider,
                            $"the results of batch {batch.Number} ({batch.ProviderBatchId}) could not be downloaded {n} times in a row (last: {ex.Message}); the results applied so far are kept",
                            ex.StatusCode, ex.ErrorCode, inner: ex);
                    }

                    _observer.Warn($"Batch {batch.Number}: collecting failed ({ex.Message}); it will be tried again.");
                }
            }
        }

        return report;
    }

    private async Task CollectBatchAsync(JobRecord job, BatchRecord batch, CollectReport report, AnswerSchema? schema, CancellationToken cancellationToken)
    {
        var pb = await _client.GetAsync(batch.ProviderBatchId!, cancellationToken).ConfigureAwait(false);
        if (pb.End == BatchEnd.Failed && pb.Errors.Any(e => e.Code == "token_limit_exceeded") && batch.Resubmits < _options.MaxResubmits)
        {
            await PlanAgainAfterTokenLimitAsync(batch, pb, cancellationToken).ConfigureAwait(false);
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var chunk = new List<ResultLine>(_options.ApplyChunk);
        var applied = 0;
        var duplicates = new List<string>();
        var unknown = new List<string>();
        var malformed = new List<string>();

        async Task Flush()
        {
            if (chunk.Count == 0)
            {
                return;
            }

            var r = await _store.ApplyResultsAsync(batch.Id, chunk, cancellationToken).ConfigureAwait(false);
            applied += r.Applied;
            unknown.AddRange(r.Unknown);
            unknown.AddRange(r.Stale);
            chunk.Clear();
            Checkpoints.Hit(Checkpoints.CollectChunk);
        }

        await foreach (var line in _client.ReadResultsAsync(pb, cancellationToken).ConfigureAwait(false))
        {
            if (line.Kind == ResultKind.Malformed || line.CustomId is null)
            {
                malformed.Add(line.Source ?? "?");
                continue;
            }

            if (!seen.Add(line.CustomId))
            {
                duplicates.Add(line.CustomId);
                continue;
            }

            // Only raw jobs store the provider's line (to write their provider-format output).
            var kept = job.Spec.Kind == JobKind.Raw || line.Raw is null ? line : line with { Raw = null };
            chunk.Add(schema?.Check(kept) ?? kept);
            if (chunk.Count >= _options.ApplyChunk)
            {
                await Flush().ConfigureAwait(false);
            }
        }

        await Flush().ConfigureAwait(false);
        Checkpoints.Hit(Checkpoints.CollectApplied);

        var (status, code, message) = pb.End switch
        {
            BatchEnd.Failed => (ItemStatus.Failed, pb.Errors.FirstOrDefault()?.Code ?? "batch_failed",
                "The batch failed validation: " + (pb.Errors.Count == 0 ? "no reason given" : string.Join("; ", pb.Errors.Select(e => e.Message)))),
            BatchEnd.Expired => (ItemStatus.Expired, "batch_expired", "This request could not be executed before the completion window expired."),
            BatchEnd.Cancelled => (ItemStatus.Cancelled, "batch_cancelled", "The batch was cancelled before this request ran."),
            _ => (ItemStatus.Failed, "missing_result", $"The provider returned no result for this request (batch {pb.Id} is {pb.Status})."),
        };
        var remaining = await _store.EndRemainingAsync(batch.Id, status, code, message, cancellationToken).ConfigureAwait(false);
        if (_options.Costs.Cache != CacheMode.Off)
        {
            await _store.RememberAnswersAsync(batch.Id, cancellationToken).ConfigureAwait(false);
        }

        // Settlement: the reservation gives way to the actual cost of the usage the provider reported for this batch.
        var settled = await _store.GetBatchAsync(batch.Id, cancellationToken).ConfigureAwait(false) ?? batch;
        var actual = JobCosts.OfBatch(job.Spec, settled with { ProviderStatus = pb.Status }, _options.Costs.Prices);
        await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Ended], BatchState.Collected,
            new BatchUpdate { CollectedAt = _time.GetUtcNow(), ProviderStatus = pb.Status, OutputFileId = pb.OutputFileId, ErrorFileId = pb.ErrorFileId, ActualCostUsd = actual },
            $"Results applied: {applied} lines, {remaining} items without a result marked {status}{(actual is { } usd ? $"; actual cost {Budgets.Money(usd)}" : string.Empty)}.", cancellationToken).ConfigureAwait(false);
        await _budget.CheckAlertAsync(job, cancellationToken).ConfigureAwait(false);

        if (unknown.Count > 0)
        {
            var msg = $"Batch {batch.Number} ({pb.Id}): {unknown.Count} result line(s) name no item of this batch and were ignored: {Sample(unknown)}.";
            _observer.Warn(msg);
            await _store.AddHistoryAsync(new HistoryEntry { JobId = batch.JobId, BatchId = batch.Id, At = _time.GetUtcNow(), Kind = "batch", State = "Anomaly", Reason = msg }, cancellationToken).ConfigureAwait(false);
        }

        if (duplicates.Count > 0)
        {
            var msg = $"Batch {batch.Number} ({pb.Id}): {duplicates.Count} duplicated result line(s); the first of each was kept: {Sample(duplicates)}.";
            _observer.Warn(msg);
            await _store.AddHistoryAsync(new HistoryEntry { JobId = batch.JobId, BatchId = batch.Id, At = _time.GetUtcNow(), Kind = "batch", State = "Anomaly", Reason = msg }, cancellationToken).ConfigureAwait(false);
        }

        if (malformed.Count > 0)
        {
            var msg = $"Batch {batch.Number} ({pb.Id}): {malformed.Count} unreadable result line(s) skipped: {Sample(malformed)}.";
            _observer.Warn(msg);
            await _store.AddHistoryAsync(new HistoryEntry { JobId = batch.JobId, BatchId = batch.Id, At = _time.GetUtcNow(), Kind = "batch", State = "Anomaly", Reason = msg }, cancellationToken).ConfigureAwait(false);
        }

        report.Add(applied, remaining, unknown.Count, duplicates.Count, malformed.Count);
        _observer.Info($"Batch {batch.Number} collected: {applied} results{(remaining > 0 ? $", {remaining} items without a result ({code})" : string.Empty)}.");
    }

    /// <summary>
    /// The provider refused the batch because its enqueued-token queue was full: the same items are planned again
    /// with a new token, to be submitted after a growing delay (nothing failed, nothing is lost).
    /// </summary>
    private async Task PlanAgainAfterTokenLimitAsync(BatchRecord batch, ProviderBatch pb, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromTicks(Math.Min(_options.TokenLimitMaxDelay.Ticks, _options.TokenLimitDelay.Ticks * (1L << Math.Min(batch.Resubmits, 20))));
        var notBefore = _time.GetUtcNow() + delay;
        var message = pb.Errors.First(e => e.Code == "token_limit_exceeded").Message;
        var ok = await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Ended], BatchState.Planned,
            new BatchUpdate { NewToken = NewToken(batch.JobId), NotBefore = notBefore, IncrementResubmits = true, ClearProviderBatch = true, ClearReservation = true, Errors = "token_limit_exceeded: " + message },
            $"Provider batch {pb.Id} was refused (token_limit_exceeded: {message}); the same {batch.RequestCount} requests will be submitted again after {FormatDelay(delay)} (re-submission {batch.Resubmits + 1} of at most {_options.MaxResubmits}).",
            cancellationToken).ConfigureAwait(false);
        if (ok)
        {
            _observer.Warn($"Batch {batch.Number}: the provider's enqueued-token queue is full ({pb.Id} refused); re-submitting in {FormatDelay(delay)}. To avoid this, give the queue limit with --max-batch-tokens (or enqueued_token_limits.MODEL in config/user.yaml) or lower --batch-size.");
        }
    }

    private static string FormatDelay(TimeSpan t) => t.TotalSeconds < 90 ? $"{t.TotalSeconds:0} s" : $"{t.TotalMinutes:0} min";

    /// <summary>
    /// One step of the background work of a job: settle interrupted submissions, submit batches that are due,
    /// poll those in flight, collect those that ended, and recompute the job status.
    /// </summary>
    public async Task<JobRecord> StepAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        await ReconcileAsync(job, cancellationToken).ConfigureAwait(false);
        var current = await _store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? job;
        if (current.Status != JobStatus.Cancelled)
        {
            await SubmitPlannedAsync(current, cancellationToken).ConfigureAwait(false);
        }

        var batches = await PollAsync(job, cancellationToken).ConfigureAwait(false);
        if (batches.Any(b => b.State == BatchState.Ended))
        {
            await CollectAsync(job, cancellationToken).ConfigureAwait(false);
        }

        return await RefreshJobStatusAsync(job, cancellationToken).ConfigureAwait(false);
    }

    private static string Sample(List<string> values) =>
        string.Join(", ", values.Take(5)) + (values.Count > 5 ? $" and {values.Count - 5} more" : string.Empty);

    /// <summary>Recomputes the job status from its items. A cancelled job stays cancelled.</summary>
    public Task<JobRecord> RefreshJobStatusAsync(JobRecord job, CancellationToken cancellationToken = default) =>
        JobStatusRules.RefreshAsync(_store, job, cancellationToken);

    /// <summary>Cancels a job: planned batches and unsent items are cancelled, submitted batches asked to cancel.</summary>
    public async Task<int> CancelAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var asked = 0;
        foreach (var batch in await _store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            if (batch.State == BatchState.Planned)
            {
                await _store.EndRemainingAsync(batch.Id, ItemStatus.Cancelled, "cancelled_by_user", "The job was cancelled before this batch was sent.", cancellationToken).ConfigureAwait(false);
                await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Collected, new BatchUpdate { CollectedAt = _time.GetUtcNow() }, "Cancelled before submission.", cancellationToken).ConfigureAwait(false);
            }
            else if (batch.State == BatchState.Submitted && batch.ProviderBatchId is not null)
            {
                var pb = await _client.CancelAsync(batch.ProviderBatchId, cancellationToken).ConfigureAwait(false);
                await _store.UpdateBatchAsync(batch.Id, new BatchUpdate { ProviderStatus = pb.Status }, cancellationToken).ConfigureAwait(false);
                await _store.AddHistoryAsync(new HistoryEntry { JobId = job.Id, BatchId = batch.Id, At = _time.GetUtcNow(), Kind = "batch", State = "CancelRequested", Reason = $"Cancellation of {pb.Id} requested (provider status {pb.Status})." }, cancellationToken).ConfigureAwait(false);
                asked++;
            }
        }

        await _store.CancelPendingItemsAsync(job.Id, cancellationToken).ConfigureAwait(false);
        await _store.TrySetJobStatusAsync(job.Id, [JobStatus.Pending, JobStatus.Running, JobStatus.Preparing, JobStatus.CompletedWithErrors, JobStatus.Failed, JobStatus.Completed], JobStatus.Cancelled, "Cancelled by the user.", cancellationToken: cancellationToken).ConfigureAwait(false);
        return asked;
    }

    /// <summary>Elects failed, expired and cancelled items for a new attempt and reopens the job.</summary>
    public async Task<int> ResumeAsync(JobRecord job, bool includeInvalid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var n = await _store.ElectForRetryAsync(job.Id, [ItemStatus.Failed, ItemStatus.Expired, ItemStatus.Cancelled], includeInvalid ? [] : NonRetryableCodes, cancellationToken).ConfigureAwait(false);
        if (n > 0)
        {
            await _store.TrySetJobStatusAsync(job.Id, [JobStatus.Completed, JobStatus.CompletedWithErrors, JobStatus.Failed, JobStatus.Cancelled, JobStatus.Running, JobStatus.Pending], JobStatus.Running, $"Resumed: {n} item(s) will be sent again.", cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return n;
    }

    private static string FormatBytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KB",
        _ => $"{bytes / 1024.0 / 1024.0:0.#} MB",
    };
}

/// <summary>Totals of a collect pass.</summary>
public sealed class CollectReport
{
    /// <summary>Result lines applied.</summary>
    public int Applied { get; private set; }

    /// <summary>Items that got no result line and were ended with the batch's outcome.</summary>
    public int WithoutResult { get; private set; }

    /// <summary>Lines naming no item of their batch.</summary>
    public int Unknown { get; private set; }

    /// <summary>Repeated lines.</summary>
    public int Duplicates { get; private set; }

    /// <summary>Unreadable lines.</summary>
    public int Malformed { get; private set; }

    /// <summary>Batches collected.</summary>
    public int Batches { get; private set; }

    /// <summary>Batches whose download was interrupted (tried again on the next pass).</summary>
    public int Interrupted { get; internal set; }

    internal void Add(int applied, int withoutResult, int unknown, int duplicates, int malformed)
    {
        Applied += applied;
        WithoutResult += withoutResult;
        Unknown += unknown;
        Duplicates += duplicates;
        Malformed += malformed;
        Batches++;
    }
}
