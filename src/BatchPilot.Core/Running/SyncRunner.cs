using System.Globalization;
using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Planning;
using BatchPilot.Pricing;
using BatchPilot.Providers;
using BatchPilot.Storage;

namespace BatchPilot.Running;

/// <summary>Settings of synchronous runs.</summary>
public sealed record SyncOptions
{
    /// <summary>Requests in flight at once.</summary>
    public int Concurrency { get; init; } = 16;

    /// <summary>Items recorded together as one chunk (a batch row with provider status <c>sync</c>).</summary>
    public int ChunkSize { get; init; } = 500;

    /// <summary>Results applied per store transaction.</summary>
    public int ApplyEvery { get; init; } = 100;

    /// <summary>Output tokens assumed per request for rate limiting when the job sets no max_tokens.</summary>
    public int AssumedOutputTokens { get; init; } = 256;

    /// <summary>How long a chunk's lease holds.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How transient failures are retried (each attempt goes through the limiter and is recorded).</summary>
    public SyncRetryOptions Retry { get; init; } = new();

    /// <summary>Prices, the daily budget and the response cache mode.</summary>
    public CostOptions Costs { get; init; } = new();
}

/// <summary>What a synchronous run did.</summary>
public sealed record SyncReport
{
    /// <summary>Requests answered with a 2xx.</summary>
    public long Succeeded { get; init; }

    /// <summary>Requests that failed after the transport's retries.</summary>
    public long Failed { get; init; }

    /// <summary>HTTP attempts made in total (retries included).</summary>
    public long Attempts { get; init; }

    /// <summary>Responses that were 429s (each retried or recorded).</summary>
    public long Throttled { get; init; }

    /// <summary>Wall time of the run.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Items answered from the response cache (nothing sent for them).</summary>
    public long FromCache { get; init; }

    /// <summary>Set when the run stopped before a chunk that would have passed a budget; its items stay pending.</summary>
    public BudgetRefusal? BudgetStop { get; init; }
}

/// <summary>
/// Sends a job's pending items through a provider's synchronous API, concurrently and within the rate limits.
/// Uses the same job, item and batch records as batch mode: each chunk of items is recorded as a batch whose provider
/// status is <c>sync</c>, so status, resume, export and the dashboard work unchanged, and a job can switch mode on
/// resume. A chunk interrupted by a crash is settled on the next run: its unanswered items are sent again.
/// </summary>
public sealed class SyncRunner
{
    /// <summary>The provider status of a chunk sent through the synchronous API.</summary>
    public const string SyncStatus = "sync";

    /// <summary>The token prefix of a chunk: a planned batch carrying it is never submitted to a batch API.</summary>
    public const string TokenPrefix = "sync-";

    /// <summary>True when a batch record is a chunk of synchronous requests (whatever its state).</summary>
    public static bool IsSyncChunk(BatchRecord batch) => batch?.Token.StartsWith(TokenPrefix, StringComparison.Ordinal) == true;

    private readonly IJobStore _store;
    private readonly ISyncClient _client;
    private readonly SyncLimiter _limiter;
    private readonly TimeProvider _time;
    private readonly IEngineObserver _observer;
    private readonly SyncOptions _options;

    /// <summary>Creates a runner.</summary>
    public SyncRunner(IJobStore store, ISyncClient client, SyncLimiter limiter, TimeProvider time, IEngineObserver? observer = null, SyncOptions? options = null)
    {
        _store = store;
        _client = client;
        _limiter = limiter;
        _time = time;
        _observer = observer ?? NullObserver.Instance;
        _options = options ?? new SyncOptions();
    }

    /// <summary>
    /// Sends every pending item of the job; returns what happened. Items whose request is in the response cache are
    /// answered from it first. With a budget, each chunk's estimate (sync prices) is reserved before any of its requests is
    /// sent, and the run stops before a chunk that would pass the budget (<see cref="SyncReport.BudgetStop"/>).
    /// </summary>
    /// <exception cref="Errors.InputException">A budget applies and the model has no price.</exception>
    public async Task<SyncReport> RunAsync(JobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var started = _time.GetUtcNow();
        job = await _store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? job;
        var costs = _options.Costs;
        await SettleInterruptedAsync(_store, job, _time, costs.Prices, cancellationToken).ConfigureAwait(false);
        var factory = new RequestFactory(job.Spec, job.Columns);
        var budget = new BudgetGuard(_store, _time, _observer, costs);
        var budgeted = budget.Applies(job);
        budget.EnsurePriced(job);
        long succeeded = 0, failed = 0, attempts = 0, throttled = 0, fromCache = 0;
        BudgetRefusal? stop = null;
        while (stop is null)
        {
            var read = await _store.ReadPendingItemsAsync(job.Id, 0, _options.ChunkSize, cancellationToken).ConfigureAwait(false);
            if (read.Count == 0)
            {
                // Another process (the same command run twice at once) may still be sending chunks of this job: its
                // answers belong to this run's output, so wait for them; a chunk whose process died is settled, and its
                // unanswered items are read again and sent here.
                if (await WaitForOtherSendersAsync(job, cancellationToken).ConfigureAwait(false))
                {
                    continue;
                }

                break;
            }

            var page = await ImagePreflight.FilterAsync(_store, job, factory, read, _observer, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                continue;
            }

            // An image that became unusable since the check fails its item unsent (and is never looked up in the cache).
            var prepared = page.Select(factory.CreateForSending).ToArray();
            var requests = Array.ConvertAll(prepared, p => p.Request);
            var keys = costs.Cache == CacheMode.Off ? null : Array.ConvertAll(prepared, p => p.Problem is null ? ResponseCache.Key(job.Spec, p.Request.Request) : "unsendable:" + p.Request.CustomId);
            if (costs.Cache == CacheMode.ReadWrite)
            {
                var answered = await ResponseCache.AnswerAsync(_store, job, page, keys!, cancellationToken).ConfigureAwait(false);
                var hits = answered.Count(a => a);
                if (hits > 0)
                {
                    fromCache += hits;
                    var keep = Enumerable.Range(0, page.Count).Where(i => !answered[i]).ToArray();
                    page = [.. keep.Select(i => page[i])];
                    prepared = [.. keep.Select(i => prepared[i])];
                    requests = [.. keep.Select(i => requests[i])];
                    keys = [.. keep.Select(i => keys![i])];
                    if (page.Count == 0)
                    {
                        continue;
                    }
                }
            }

            decimal? amount = null;
            if (budgeted)
            {
                var input = requests.Sum(r => TokenCounter.CountRequest(r.Request, job.Spec.Provider));
                amount = await budget.EstimateAsync(job, page.Count, input, batchApi: false, cancellationToken).ConfigureAwait(false);
                stop = await budget.PrecheckAsync(job, amount.Value, page.Count, 0, cancellationToken).ConfigureAwait(false);
                if (stop is not null)
                {
                    stop = stop with { HeldItems = (await _store.GetCountsAsync(job.Id, cancellationToken).ConfigureAwait(false)).Pending };
                    _observer.Info($"The next chunk of {page.Count} sync requests {stop.Note}");
                    break;
                }
            }

            var token = TokenPrefix + job.Id + "-" + Guid.NewGuid().ToString("N")[..12];
            BatchRecord batch;
            try
            {
                batch = await _store.CreatePlannedBatchAsync(job.Id, new PlannedBatch { Seqs = [.. page.Select(i => i.Seq)], Token = token, CacheKeys = keys }, cancellationToken).ConfigureAwait(false);
            }
            catch (PlanningConflictException)
            {
                // Another process (the same command run twice at once) took some of these items first: read again.
                continue;
            }

            var now = _time.GetUtcNow();
            var claim = await _store.TryReserveAsync(batch.Id, [BatchState.Planned], BatchState.Submitted,
                new BatchUpdate { ProviderBatchId = token, ProviderStatus = SyncStatus, SubmittingAt = now, SubmittedAt = now, LeaseOwner = ProcessIdentity.Current, LeaseUntil = now + _options.LeaseDuration },
                budget.Limits(job, amount),
                $"Sending {page.Count} requests through the synchronous API{(amount is { } a ? $" ({Budgets.Money(a)} reserved against the budget)" : string.Empty)}.", cancellationToken).ConfigureAwait(false);
            if (!claim.Reserved)
            {
                // Another process spent the room between the check and the claim: nothing of this chunk was sent.
                await _store.ReleaseBatchItemsAsync(batch.Id, cancellationToken).ConfigureAwait(false);
                await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Collected, new BatchUpdate { EndedAt = now, CollectedAt = now, ActualCostUsd = 0 },
                    "Not sent: the budget would have been passed; its items went back to pending.", cancellationToken).ConfigureAwait(false);
                var counts = await _store.GetCountsAsync(job.Id, cancellationToken).ConfigureAwait(false);
                stop = budget.Refusal(job, claim.RefusedBy ?? BudgetKind.Job, claim.Spend, amount ?? 0, page.Count, counts.Pending, sync: true);
                _observer.Info($"The next chunk of {page.Count} sync requests {stop.Note}");
                break;
            }

            Checkpoints.Hit(Checkpoints.SyncReserved);
            if (budgeted)
            {
                await budget.CheckAlertAsync(job, cancellationToken).ConfigureAwait(false);
            }

            var pending = new List<ResultLine>(_options.ApplyEvery);
            var retriedItems = new List<string>();
            var gate = new SemaphoreSlim(1, 1);
            long chunkOk = 0, chunkFailed = 0;

            async Task FlushAsync(bool force)
            {
                List<ResultLine>? toApply = null;
                List<string>? retries = null;
                lock (pending)
                {
                    if (pending.Count >= _options.ApplyEvery || (force && pending.Count > 0))
                    {
                        toApply = [.. pending];
                        pending.Clear();
                        retries = retriedItems.Count > 0 ? [.. retriedItems] : null;
                        retriedItems.Clear();
                    }
                }

                if (toApply is not null)
                {
                    await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                    try
                    {
                        await _store.ApplyResultsAsync(batch.Id, toApply, cancellationToken).ConfigureAwait(false);
                        foreach (var reason in retries ?? [])
                        {
                            await _store.AddHistoryAsync(new HistoryEntry { JobId = job.Id, BatchId = batch.Id, At = _time.GetUtcNow(), Kind = "item", State = "Retried", Reason = reason }, cancellationToken).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        gate.Release();
                    }
                }
            }

            // The chunk's lease is renewed while it is sent (a slow rate limit can take longer than one lease), so that no
            // other process takes the chunk of a live one for interrupted and sends its items a second time.
            using var renewing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var renewal = RenewLeaseAsync(batch.Id, renewing.Token);
            try
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, prepared.Length), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.Concurrency), CancellationToken = cancellationToken }, async (index, ct) =>
                {
                    var (request, imageProblem) = prepared[index];
                    if (imageProblem is not null)
                    {
                        Interlocked.Increment(ref chunkFailed);
                        lock (pending)
                        {
                            pending.Add(new ResultLine { CustomId = request.CustomId, Kind = ResultKind.Failed, ErrorCode = imageProblem.Code, ErrorMessage = imageProblem.Message });
                        }

                        return;
                    }

                    var response = await SyncAttempts.SendAsync(_client, _limiter, request, _options, _time, ct).ConfigureAwait(false);
                    if (factory.Schema is { } schema)
                    {
                        response = response with { Result = schema.Check(response.Result) };
                    }
                    Interlocked.Add(ref attempts, response.Attempts);
                    Interlocked.Add(ref throttled, response.Throttled);
                    if (response.Result.Kind == ResultKind.Succeeded)
                    {
                        Interlocked.Increment(ref chunkOk);
                    }
                    else
                    {
                        Interlocked.Increment(ref chunkFailed);
                    }

                    lock (pending)
                    {
                        pending.Add(response.Result);
                        if (response.Attempts > 1)
                        {
                            retriedItems.Add(response.Describe());
                        }
                    }

                    await FlushAsync(force: false).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }
            finally
            {
                await renewing.CancelAsync().ConfigureAwait(false);
                await renewal.ConfigureAwait(false);

                // Whatever was answered is kept, even when the run is interrupted.
                await FlushAsync(force: true).ConfigureAwait(false);
                gate.Dispose();
            }

            await _store.EndRemainingAsync(batch.Id, ItemStatus.Failed, "missing_result", "No answer was recorded for this request.", cancellationToken).ConfigureAwait(false);
            if (keys is not null)
            {
                await _store.RememberAnswersAsync(batch.Id, cancellationToken).ConfigureAwait(false);
            }

            var end = _time.GetUtcNow();
            var actual = await SettledCostAsync(_store, job, batch.Id, costs.Prices, cancellationToken).ConfigureAwait(false);
            await _store.TryTransitionBatchAsync(batch.Id, [BatchState.Submitted], BatchState.Collected,
                new BatchUpdate { DoneCount = page.Count, FailedCount = (int)chunkFailed, EndedAt = end, CollectedAt = end, ClearLease = true, ActualCostUsd = actual },
                $"{chunkOk} of {page.Count} requests answered{(actual is { } usd ? $"; actual cost {Budgets.Money(usd)}" : string.Empty)}.", cancellationToken).ConfigureAwait(false);
            if (budgeted)
            {
                await budget.CheckAlertAsync(job, cancellationToken).ConfigureAwait(false);
            }

            succeeded += chunkOk;
            failed += chunkFailed;
            _observer.Info($"Chunk {batch.Number}: {chunkOk} answered, {chunkFailed} failed ({succeeded + failed} done so far).");
        }

        return new SyncReport
        {
            Succeeded = succeeded,
            Failed = failed,
            Attempts = attempts,
            Throttled = throttled,
            Elapsed = _time.GetUtcNow() - started,
            FromCache = fromCache,
            BudgetStop = stop,
        };
    }

    /// <summary>How long a chunk recorded but not yet marked sent belongs to the process that recorded it.</summary>
    public static readonly TimeSpan PlannedChunkGrace = TimeSpan.FromMinutes(1);

    /// <summary>True when the batch is a sync chunk a live process is sending (its lease running, its process not known dead).</summary>
    public static bool IsBeingSent(BatchRecord batch, DateTimeOffset now) =>
        batch?.State == BatchState.Submitted && batch.ProviderStatus == SyncStatus && batch.LeaseUntil > now && !ProcessIdentity.IsDead(batch.LeaseOwner);

    /// <summary>True when the batch is a sync chunk recorded but not yet marked sent, still within its process's grace.</summary>
    public static bool IsBeingRecorded(BatchRecord batch, DateTimeOffset now) =>
        batch?.State == BatchState.Planned && IsSyncChunk(batch) && batch.CreatedAt >= now - PlannedChunkGrace;

    /// <summary>How often a run whose own items are all sent looks again at chunks another process is still sending.</summary>
    public static readonly TimeSpan OtherSendersPoll = TimeSpan.FromSeconds(1);

    /// <summary>Moves the chunk's lease on every third of its duration until <paramref name="cancellationToken"/> ends the chunk.</summary>
    private async Task RenewLeaseAsync(long batchId, CancellationToken cancellationToken)
    {
        var every = _options.LeaseDuration / 3;
        try
        {
            while (true)
            {
                await Task.Delay(every, _time, cancellationToken).ConfigureAwait(false);
                try
                {
                    await _store.UpdateBatchAsync(batchId, new BatchUpdate { LeaseUntil = _time.GetUtcNow() + _options.LeaseDuration }, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A renewal the store refused (busy, full disk) is tried again a third of a lease later; the chunk's
                    // own writes report the store's state, this must not end the chunk.
                    _observer.Warn($"The lease of chunk {batchId.ToString(CultureInfo.InvariantCulture)} could not be renewed: {ex.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The chunk ended (or the run was stopped): its lease is released or left to expire.
        }
    }

    /// <summary>
    /// Waits while another live process holds sync chunks of the job (its lease renewed, its process alive), then settles
    /// what such a process left interrupted. Returns true when it waited (the pending items are to be read again).
    /// </summary>
    private async Task<bool> WaitForOtherSendersAsync(JobRecord job, CancellationToken cancellationToken)
    {
        var waited = false;
        while (true)
        {
            var now = _time.GetUtcNow();
            var held = (await _store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false))
                .Count(b => IsBeingSent(b, now) || IsBeingRecorded(b, now));
            if (held == 0)
            {
                if (waited)
                {
                    await SettleInterruptedAsync(_store, job, _time, _options.Costs.Prices, cancellationToken).ConfigureAwait(false);
                }

                return waited;
            }

            if (!waited)
            {
                _observer.Info($"Another process is still sending {held.ToString(CultureInfo.InvariantCulture)} chunk(s) of this job; waiting for its answers.");
                waited = true;
            }

            await Task.Delay(OtherSendersPoll, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The actual cost of a chunk from the usage applied to it (null when the model has no price).</summary>
    private static async Task<decimal?> SettledCostAsync(IJobStore store, JobRecord job, long batchId, PriceTable? prices, CancellationToken cancellationToken)
    {
        if (prices is null || await store.GetBatchAsync(batchId, cancellationToken).ConfigureAwait(false) is not { } batch)
        {
            return null;
        }

        return prices.Cost(job.Spec.Model, batch.Usage, batch: false);
    }

    /// <summary>
    /// A chunk whose process died: the answers it recorded are kept and its unanswered items go back to Pending.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="job">The job.</param>
    /// <param name="time">The clock.</param>
    /// <param name="prices">Prices to settle the chunk's actual cost with (none settled when null).</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static async Task<int> SettleInterruptedAsync(IJobStore store, JobRecord job, TimeProvider time, PriceTable? prices = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(time);
        var settled = 0;
        foreach (var batch in await store.ListBatchesAsync(job.Id, cancellationToken).ConfigureAwait(false))
        {
            // A chunk recorded but never marked sent (the process died in between, a minute or more ago): nothing of it
            // was sent, so its items simply go back to Pending.
            if (batch.State == BatchState.Planned && IsSyncChunk(batch) && !IsBeingRecorded(batch, time.GetUtcNow()))
            {
                var unsent = await store.ReleaseBatchItemsAsync(batch.Id, cancellationToken).ConfigureAwait(false);
                var at = time.GetUtcNow();
                settled++;
                await store.TryTransitionBatchAsync(batch.Id, [BatchState.Planned], BatchState.Collected, new BatchUpdate { EndedAt = at, CollectedAt = at },
                    $"Interrupted synchronous chunk settled before sending: {unsent.ToString(CultureInfo.InvariantCulture)} item(s) will be sent.", cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (batch.State != BatchState.Submitted || batch.ProviderStatus != SyncStatus)
            {
                continue;
            }

            if (IsBeingSent(batch, time.GetUtcNow()))
            {
                continue;
            }

            var released = await store.ReleaseBatchItemsAsync(batch.Id, cancellationToken).ConfigureAwait(false);
            await store.RememberAnswersAsync(batch.Id, cancellationToken).ConfigureAwait(false);
            var now = time.GetUtcNow();
            settled++;
            var actual = await SettledCostAsync(store, job, batch.Id, prices, cancellationToken).ConfigureAwait(false);
            await store.TryTransitionBatchAsync(batch.Id, [BatchState.Submitted], BatchState.Collected, new BatchUpdate { EndedAt = now, CollectedAt = now, ClearLease = true, ActualCostUsd = actual },
                $"Interrupted synchronous chunk settled: {released.ToString(CultureInfo.InvariantCulture)} unanswered item(s) will be sent again.", cancellationToken).ConfigureAwait(false);
        }

        return settled;
    }
}
