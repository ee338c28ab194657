using System.Globalization;
using BatchPilot.Batches;
using BatchPilot.Cli.Ui;
using BatchPilot.Errors;
using BatchPilot.Exports;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace BatchPilot.Cli.Commands;

/// <summary>Steps shared by run, resume, watch and collect.</summary>
internal static class JobFlow
{
    /// <summary>Consecutive failed refreshes tolerated while waiting before giving up (the job is safe either way).</summary>
    public const int MaxConsecutiveFailures = 30;

    /// <summary>Polls until no batch is active, with a live display, a bounded backoff and an overall bound.</summary>
    public static async Task<JobRecord> WaitAsync(CliContext ctx, JobEngine engine, JobRecord job, TimeSpan interval, TimeSpan timeout, CancellationToken ct) =>
        (await WaitAllAsync(ctx, [(engine, job)], interval, timeout, job.Id, ct).ConfigureAwait(false))[0];

    /// <summary>
    /// Polls several jobs (the variants of a comparison, each with its own engine and provider) until none has an active
    /// batch, in one live display: per job a header line and its batches. <paramref name="subject"/> is the id named by
    /// the timeout message (the job, or the comparison group). Returns the jobs in the same order.
    /// </summary>
    public static async Task<IReadOnlyList<JobRecord>> WaitAllAsync(CliContext ctx, IReadOnlyList<(JobEngine Engine, JobRecord Job)> jobs, TimeSpan interval, TimeSpan timeout, string subject, CancellationToken ct)
    {
        var started = ctx.Time.GetUtcNow();
        var delay = TimeSpan.FromMilliseconds(Math.Min(1000, interval.TotalMilliseconds));
        var messages = new Queue<string>();
        var lastLine = string.Empty;
        var lastPrinted = DateTimeOffset.MinValue;
        var current = jobs.Select(x => x.Job).ToArray();
        var snapshot = new (JobRecord Job, IReadOnlyList<BatchRecord> Batches, JobCounts Counts)[current.Length];

        // A job is waited for while it has active batches, except those a budget holds back: once nothing of it is in
        // flight, the run reports the stop.
        bool Done(int i) => snapshot[i].Batches is { } b && (!JobSteps.HasActive(b) || (jobs[i].Engine.BudgetStop is not null && !JobSteps.HasInFlight(b)));

        async Task Step()
        {
            for (var i = 0; i < jobs.Count; i++)
            {
                // A job that is done is not asked again: its variant may end long before the others.
                if (Done(i))
                {
                    continue;
                }

                current[i] = await jobs[i].Engine.StepAsync(current[i], ct).ConfigureAwait(false);
                var b = await ctx.Store.ListBatchesAsync(current[i].Id, ct).ConfigureAwait(false);
                var c = await ctx.Store.GetCountsAsync(current[i].Id, ct).ConfigureAwait(false);
                snapshot[i] = (current[i], b, c);
            }
        }

        IRenderable Render()
        {
            var rows = new List<IRenderable>();
            foreach (var (j, b, c) in snapshot)
            {
                rows.Add(new Markup($"[bold]{Markup.Escape(j.Id)}[/] {Markup.Escape(j.Name)}: {JobTables.StatusMarkup(j.Status.ToString())}  "
                    + $"{Format.Number(c.Ended)}/{Format.Number(c.Total)} ({Format.Percent(c.Ended, c.Total)})  ok {Format.Number(c.Succeeded)}  failed {Format.Number(c.NotSucceeded)}  "
                    + $"elapsed {Format.Duration(ctx.Time.GetUtcNow() - started)}"));
                rows.Add(JobTables.Batches(b, ctx.Time.GetUtcNow(), j.Spec, ctx.Prices));
            }

            lock (messages)
            {
                rows.AddRange(messages.Select(m => new Markup("[grey]" + Markup.Escape(m) + "[/]")));
            }

            return new Rows(rows);
        }

        void Plain(bool force)
        {
            var line = string.Join(" | ", snapshot.Select(x =>
            {
                var (j, b, c) = x;
                var active = b.Where(y => y.IsActive).Select(y => $"#{y.Number} {y.ProviderStatus ?? y.State.ToString()} {y.DoneCount}/{y.RequestCount}");
                return $"{j.Id}: {j.Status} {c.Ended}/{c.Total} ({Format.Percent(c.Ended, c.Total)}) ok {c.Succeeded} failed {c.NotSucceeded}; " + string.Join(", ", active);
            }));
            var now = ctx.Time.GetUtcNow();
            if (force || (line != lastLine && now - lastPrinted > TimeSpan.FromSeconds(2)) || now - lastPrinted > TimeSpan.FromSeconds(30))
            {
                ctx.Ui.Err.WriteLine(line);
                lastLine = line;
                lastPrinted = now;
            }
        }

        async Task Loop(Action show)
        {
            var failures = 0;
            while (true)
            {
                try
                {
                    await Step().ConfigureAwait(false);
                    failures = 0;
                }
                catch (ProviderException ex) when (!ex.IsAuthError && !ct.IsCancellationRequested && ++failures < MaxConsecutiveFailures)
                {
                    ctx.Ui.Warn($"{ex.Message}; trying again (failure {failures} of {MaxConsecutiveFailures}).");
                    await Task.Delay(delay, ctx.Time, ct).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, interval.TotalMilliseconds));
                    continue;
                }

                show();
                if (snapshot.Select((_, i) => i).All(Done))
                {
                    return;
                }

                if (ctx.Time.GetUtcNow() - started > timeout)
                {
                    throw new InputException($"the job is still running after {Format.Duration(timeout)}", field: "--timeout",
                        hint: $"it goes on at the provider: check later with 'batchpilot status {subject} --refresh' or rerun the same command", exitCode: ExitCodes.Pending);
                }

                await Task.Delay(delay, ctx.Time, ct).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, interval.TotalMilliseconds));
            }
        }

        if (ctx.Ui.Interactive && !ctx.Ui.Json)
        {
            ctx.Ui.LiveSink = m =>
            {
                lock (messages)
                {
                    messages.Enqueue(m);
                    while (messages.Count > 6)
                    {
                        messages.Dequeue();
                    }
                }
            };
            try
            {
                await ctx.Ui.Err.Live(new Markup("Starting…")).AutoClear(false).StartAsync(async live =>
                {
                    await Loop(() =>
                    {
                        live.UpdateTarget(Render());
                        live.Refresh();
                    }).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }
            finally
            {
                ctx.Ui.LiveSink = null;
            }

            return current;
        }

        await Loop(() => Plain(force: false)).ConfigureAwait(false);
        for (var i = 0; i < current.Length; i++)
        {
            snapshot[i] = (current[i], await ctx.Store.ListBatchesAsync(current[i].Id, ct).ConfigureAwait(false), await ctx.Store.GetCountsAsync(current[i].Id, ct).ConfigureAwait(false));
        }

        Plain(force: true);
        return current;
    }

    /// <summary>
    /// Sends the job's pending items through the synchronous API, within the rate limits, in chunks of
    /// <paramref name="chunkSize"/> (default 500); prints progress per chunk. Returns the job and, when a budget stopped
    /// the run, why.
    /// </summary>
    public static async Task<(JobRecord Job, BudgetRefusal? BudgetStop)> RunSyncAsync(CliContext ctx, JobRecord job, string? apiKeyFlag, SyncLimiter limiter, int concurrency, int? chunkSize, CancellationToken ct)
    {
        using var client = await ctx.SyncClientAsync(job.Spec, apiKeyFlag, ct).ConfigureAwait(false);
        var options = SyncOptionsFor(ctx, job.Spec) with { Concurrency = concurrency };
        if (chunkSize is { } size)
        {
            options = options with { ChunkSize = size };
        }

        var runner = new SyncRunner(ctx.Store, client, limiter, ctx.Time, ctx.Ui, options);
        await ctx.Store.TrySetJobStatusAsync(job.Id, [JobStatus.Pending, JobStatus.CompletedWithErrors, JobStatus.Failed, JobStatus.Completed], JobStatus.Running, "Sending through the synchronous API.", cancellationToken: ct).ConfigureAwait(false);
        var report = await runner.RunAsync(job, ct).ConfigureAwait(false);
        var limits = limiter.RequestsPerMinute is { } rpm ? $"{rpm.ToString(CultureInfo.InvariantCulture)} requests/min" : "no known request limit";
        var cached = report.FromCache > 0 ? $", {report.FromCache} answered from the cache" : string.Empty;
        ctx.Ui.Info($"Sync: {report.Succeeded} answered, {report.Failed} failed{cached} in {Ui.Format.Duration(report.Elapsed)} ({limits}; {report.Attempts} HTTP attempts, {report.Throttled} throttled).");
        return (await JobStatusRules.RefreshAsync(ctx.Store, job, ct).ConfigureAwait(false), report.BudgetStop);
    }

    /// <summary>
    /// The settings of a sync run of a job (the dashboard's too): the retries, prices, daily budget and cache mode of the
    /// configuration, the default concurrency, and the output tokens the rate limiter assumes per request.
    /// </summary>
    public static SyncOptions SyncOptionsFor(CliContext ctx, JobSpec spec) => new()
    {
        Retry = ctx.SyncRetryOptions(),
        Costs = ctx.Costs,

        // What the providers count against the output-token limits when the job sets no max tokens: Anthropic's
        // default max_tokens as we send it; for OpenAI an assumption (the answer's length is not known up front).
        AssumedOutputTokens = spec.Provider == ProviderNames.Anthropic ? SyncClients.AnthropicDefaultMaxTokens : new SyncOptions().AssumedOutputTokens,
    };

    /// <summary>
    /// Parses <c>--budget</c>: an amount in USD (a leading <c>$</c> is accepted), or <c>off</c> / <c>none</c> to remove the
    /// job's budget. Returns whether it was given, and the value.
    /// </summary>
    /// <exception cref="InputException">Not an amount.</exception>
    public static (bool Given, decimal? Usd) ParseBudget(string? text)
    {
        if (text is null)
        {
            return (false, null);
        }

        var t = text.Trim();
        if (t.Equals("off", StringComparison.OrdinalIgnoreCase) || t.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return (true, null);
        }

        if (!decimal.TryParse(t.TrimStart('$'), NumberStyles.Float, CultureInfo.InvariantCulture, out var usd) || usd < 0)
        {
            throw new InputException($"'{text}' is not an amount in USD", field: "--budget", hint: "give dollars, e.g. --budget 5 or --budget 0.50 ('off' removes the job's budget)");
        }

        return (true, usd);
    }

    /// <summary>Refuses, before anything is stored or sent, a budget on a model without a price.</summary>
    /// <exception cref="InputException">A budget applies and the model has no price.</exception>
    public static void EnsureBudgetPriced(CliContext ctx, string model, (bool Given, decimal? Usd) budget, decimal? storedBudget = null) =>
        JobBudgets.EnsurePriced(ctx.Prices, ctx.Costs.DailyBudgetUsd, model, budget.Given ? budget.Usd : storedBudget);

    /// <summary>Stores <c>--budget</c> on the job when it was given and differs; returns the job as stored.</summary>
    public static async Task<JobRecord> ApplyBudgetAsync(CliContext ctx, JobRecord job, (bool Given, decimal? Usd) budget, CancellationToken ct)
    {
        if (!budget.Given)
        {
            return job;
        }

        var (updated, reason) = await JobBudgets.SetAsync(ctx.Store, job, budget.Usd, budget.Usd is null ? "--budget off" : "--budget", ct).ConfigureAwait(false);
        if (reason is not null)
        {
            ctx.Ui.Info($"Job {job.Id}: {char.ToLowerInvariant(reason[0])}{reason[1..]}");
        }

        return updated;
    }

    /// <summary>Reports a budget stop (one line) and returns its exit code.</summary>
    public static int BudgetExit(CliContext ctx, BudgetRefusal stop)
    {
        ctx.Ui.Error(stop.Message + ".");
        return ExitCodes.BudgetExceeded;
    }

    /// <summary>The job's view with counts and batches.</summary>
    public static async Task<JobView> ViewAsync(CliContext ctx, JobRecord job, bool withBatches, CancellationToken ct)
    {
        var counts = await ctx.Store.GetCountsAsync(job.Id, ct).ConfigureAwait(false);
        var batches = await ctx.Store.ListBatchesAsync(job.Id, ct).ConfigureAwait(false);
        Spend? spend = null;
        if (job.BudgetUsd is not null || batches.Any(b => b.ReservedUsd is not null && JobSteps.HasInFlight([b])))
        {
            spend = (await ctx.Store.GetSpendAsync(job.Id, JobBudgets.DayStart(ctx.Time.GetUtcNow()), ct).ConfigureAwait(false)).Job;
        }

        var view = JobView.Of(job, counts, batches, withBatches, ctx.Prices, spend);
        if (job.Spec.SkipMissingImages)
        {
            var (skipped, ids) = await ImagePreflight.SkippedAsync(ctx.Store, job.Id, cancellationToken: ct).ConfigureAwait(false);
            view = view with { SkippedImages = skipped, SkippedIds = ids };
        }

        return view;
    }

    /// <summary>Exit code of a finished job: 0 only when every item succeeded (or was skipped with --skip-missing-images).</summary>
    public static int ExitCodeOf(JobView view) =>
        view.Pending > 0 ? ExitCodes.Pending : (view.Succeeded + (view.SkippedImages ?? 0) == view.Total ? ExitCodes.Success : ExitCodes.ItemsFailed);

    /// <summary>
    /// Writes the merged output and prints the summary; returns the exit code (<see cref="ExitCodes.BudgetExceeded"/>
    /// with the one-line reason when <paramref name="budgetStop"/> says a budget held batches back).
    /// </summary>
    public static async Task<int> FinishAsync(CliContext ctx, JobRecord job, string? outPath, string responseColumn, DateTimeOffset started, BudgetRefusal? budgetStop, CancellationToken ct)
    {
        string? written = null;
        if (outPath is not null)
        {
            // A raw job's output is its provider's own output file (submit-file), whatever the extension.
            var format = job.Spec.Kind == JobKind.Raw ? ExportFormat.Provider : JobExporter.FormatFromExtension(outPath);
            await JobExporter.ExportAsync(ctx.Store, job, format, outPath, new ExportOptions { ResponseColumn = responseColumn, Time = ctx.Time, Prices = ctx.Prices }, ct).ConfigureAwait(false);
            written = Path.GetFullPath(outPath);
        }

        var view = await ViewAsync(ctx, job, withBatches: true, ct).ConfigureAwait(false);
        view = view with { Output = written, ElapsedSeconds = Math.Round((ctx.Time.GetUtcNow() - started).TotalSeconds, 3), BudgetStop = budgetStop?.Message };
        if (ctx.Ui.Json)
        {
            ctx.Ui.WriteJson(view, CliJson.Default.JobView);
        }
        else
        {
            ctx.Ui.Write(JobTables.Summary(view));
            if (view.Failed + view.Expired + view.Cancelled - (view.SkippedImages ?? 0) > 0)
            {
                ctx.Ui.Info($"{view.Failed + view.Expired + view.Cancelled - (view.SkippedImages ?? 0)} item(s) did not succeed: see 'batchpilot status {job.Id}', then 'batchpilot resume {job.Id}' to send them again.");
            }

            if (view.CostUsd is null)
            {
                ctx.Ui.Warn($"no price is known for model {job.Spec.Model}: cost shown as unknown.");
            }
        }

        return budgetStop is not null ? BudgetExit(ctx, budgetStop) : ExitCodeOf(view);
    }

    /// <summary>
    /// Where a new job's provider is reached: the embedded emulator, or the configured base URL once the key is known
    /// to exist (a missing key stops the command before anything is stored or sent).
    /// </summary>
    public static string EndpointFor(CliContext ctx, string provider, string model, bool useEmulator, string? apiKeyFlag, string? baseUrlFlag)
    {
        if (useEmulator)
        {
            return CliContext.EmulatorEndpoint;
        }

        ctx.RequireKey(provider, model, apiKeyFlag);
        return RunCommand.RequireBaseUrl(ctx, provider, baseUrlFlag);
    }

    /// <summary>What <c>--detach</c> prints once the job is submitted: the job id (or its view with --json).</summary>
    public static Task<int> DetachedAsync(CliContext ctx, JobRecord job, string rerunNote, CancellationToken ct) =>
        DetachedAsync(ctx, job.Id, async () => ctx.Ui.WriteJson(await ViewAsync(ctx, job, true, ct).ConfigureAwait(false), CliJson.Default.JobView), rerunNote);

    /// <summary>What <c>--detach</c> prints: the id of what was submitted (a job or a comparison group), or its JSON view.</summary>
    public static async Task<int> DetachedAsync(CliContext ctx, string id, Func<Task> writeJson, string rerunNote)
    {
        if (ctx.Ui.Json)
        {
            await writeJson().ConfigureAwait(false);
        }
        else
        {
            ctx.Ui.Line(id);
            ctx.Ui.Info($"Submitted. Follow it with 'batchpilot watch {id}'; {rerunNote}.");
        }

        return ExitCodes.Success;
    }

    /// <summary>
    /// The provider of a run: <c>--provider</c>, else <c>provider:</c> in config/user.yaml, else from the model name
    /// (<c>claude*</c> Anthropic, <c>vendor/model</c> OpenRouter, anything else OpenAI).
    /// </summary>
    public static string ProviderFor(CliContext ctx, string model, string? flag)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var setting = ctx.Settings.Provider(flag);
        return setting.Source == Config.SettingSource.UserYaml
            ? ProviderFor(model, setting.Value, "provider (config/user.yaml)")
            : ProviderFor(model, setting.Value);
    }

    /// <summary>Parses the provider flag or derives it from the model (<see cref="ProviderChoice.ProviderFor"/>).</summary>
    public static string ProviderFor(string model, string? flag, string flagName = "--provider") => ProviderChoice.ProviderFor(model, flag, flagName);

    /// <summary>Refuses batch mode for a provider whose batch API BatchPilot does not use, before anything is sent.</summary>
    /// <exception cref="InputException">The provider has no batch API here.</exception>
    public static void RequireBatchApi(string provider, string model, string modeFlag = "--mode") => ProviderChoice.RequireBatchApi(provider, model, modeFlag);

    public static string Plural(long n, string word) => n.ToString(CultureInfo.InvariantCulture) + " " + word + (n == 1 ? string.Empty : "s");
}
