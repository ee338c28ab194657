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
    public static async Task<JobRecord> WaitAsync(CliContext ctx, JobEngine engine, JobRecord job, TimeSpan interval, TimeSpan timeout, CancellationToken ct)
    {
        var started = ctx.Time.GetUtcNow();
        var delay = TimeSpan.FromMilliseconds(Math.Min(1000, interval.TotalMilliseconds));
        var messages = new Queue<string>();
        var lastLine = string.Empty;
        var lastPrinted = DateTimeOffset.MinValue;

        async Task<(JobRecord Job, IReadOnlyList<BatchRecord> Batches, JobCounts Counts)> Step()
        {
            var j = await engine.StepAsync(job, ct).ConfigureAwait(false);
            var b = await ctx.Store.ListBatchesAsync(job.Id, ct).ConfigureAwait(false);
            var c = await ctx.Store.GetCountsAsync(job.Id, ct).ConfigureAwait(false);
            return (j, b, c);
        }

        IRenderable Render(JobRecord j, IReadOnlyList<BatchRecord> b, JobCounts c)
        {
            var header = new Markup($"[bold]{Markup.Escape(j.Id)}[/] {Markup.Escape(j.Name)}: {JobTables.StatusMarkup(j.Status.ToString())}  "
                + $"{Format.Number(c.Ended)}/{Format.Number(c.Total)} ({Format.Percent(c.Ended, c.Total)})  ok {Format.Number(c.Succeeded)}  failed {Format.Number(c.NotSucceeded)}  "
                + $"elapsed {Format.Duration(ctx.Time.GetUtcNow() - started)}");
            var rows = new List<IRenderable> { header, JobTables.Batches(b, ctx.Time.GetUtcNow(), j.Spec, ctx.Prices) };
            lock (messages)
            {
                rows.AddRange(messages.Select(m => new Markup("[grey]" + Markup.Escape(m) + "[/]")));
            }

            return new Rows(rows);
        }

        void Plain(JobRecord j, IReadOnlyList<BatchRecord> b, JobCounts c, bool force)
        {
            var active = b.Where(x => x.IsActive).Select(x => $"#{x.Number} {x.ProviderStatus ?? x.State.ToString()} {x.DoneCount}/{x.RequestCount}");
            var line = $"{j.Id}: {j.Status} {c.Ended}/{c.Total} ({Format.Percent(c.Ended, c.Total)}) ok {c.Succeeded} failed {c.NotSucceeded}; " + string.Join(", ", active);
            var now = ctx.Time.GetUtcNow();
            if (force || (line != lastLine && now - lastPrinted > TimeSpan.FromSeconds(2)) || now - lastPrinted > TimeSpan.FromSeconds(30))
            {
                ctx.Ui.Err.WriteLine(line);
                lastLine = line;
                lastPrinted = now;
            }
        }

        async Task<JobRecord> Loop(Action<JobRecord, IReadOnlyList<BatchRecord>, JobCounts> show)
        {
            var failures = 0;
            while (true)
            {
                JobRecord j;
                IReadOnlyList<BatchRecord> b;
                JobCounts c;
                try
                {
                    (j, b, c) = await Step().ConfigureAwait(false);
                    failures = 0;
                }
                catch (ProviderException ex) when (!ex.IsAuthError && !ct.IsCancellationRequested && ++failures < MaxConsecutiveFailures)
                {
                    ctx.Ui.Warn($"{ex.Message}; trying again (failure {failures} of {MaxConsecutiveFailures}).");
                    await Task.Delay(delay, ctx.Time, ct).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, interval.TotalMilliseconds));
                    continue;
                }

                show(j, b, c);

                // Batches held back by a budget are not waited for: once nothing is in flight, the run reports the stop.
                if (!JobSteps.HasActive(b) || (engine.BudgetStop is not null && !JobSteps.HasInFlight(b)))
                {
                    return j;
                }

                if (ctx.Time.GetUtcNow() - started > timeout)
                {
                    throw new InputException($"the job is still running after {Format.Duration(timeout)}", field: "--timeout",
                        hint: $"it goes on at the provider: check later with 'batchpilot status {j.Id} --refresh' or rerun the same command", exitCode: ExitCodes.Pending);
                }

                await Task.Delay(delay, ctx.Time, ct).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, interval.TotalMilliseconds));
            }
        }

        if (ctx.Ui.Interactive && !ctx.Ui.Json)
        {
            JobRecord result = job;
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
                    result = await Loop((j, b, c) =>
                    {
                        live.UpdateTarget(Render(j, b, c));
                        live.Refresh();
                    }).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }
            finally
            {
                ctx.Ui.LiveSink = null;
            }

            return result;
        }

        var final = await Loop((j, b, c) => Plain(j, b, c, force: false)).ConfigureAwait(false);
        var fb = await ctx.Store.ListBatchesAsync(job.Id, ct).ConfigureAwait(false);
        var fc = await ctx.Store.GetCountsAsync(job.Id, ct).ConfigureAwait(false);
        Plain(final, fb, fc, force: true);
        return final;
    }

    /// <summary>
    /// Sends the job's pending items through the synchronous API, within the rate limits, in chunks of
    /// <paramref name="chunkSize"/> (default 500); prints progress per chunk. Returns the job and, when a budget stopped
    /// the run, why.
    /// </summary>
    public static async Task<(JobRecord Job, BudgetRefusal? BudgetStop)> RunSyncAsync(CliContext ctx, JobRecord job, string? apiKeyFlag, SyncLimiter limiter, int concurrency, int? chunkSize, CancellationToken ct)
    {
        using var client = await ctx.SyncClientAsync(job.Spec, apiKeyFlag, ct).ConfigureAwait(false);
        var options = new SyncOptions { Concurrency = concurrency, Costs = ctx.Costs };
        if (chunkSize is { } size)
        {
            options = options with { ChunkSize = size };
        }

        var runner = new SyncRunner(ctx.Store, client, limiter, ctx.Time, ctx.Ui, options);
        await ctx.Store.TrySetJobStatusAsync(job.Id, [JobStatus.Pending, JobStatus.CompletedWithErrors, JobStatus.Failed, JobStatus.Completed], JobStatus.Running, "Sending through the synchronous API.", cancellationToken: ct).ConfigureAwait(false);
        var report = await runner.RunAsync(job, ct).ConfigureAwait(false);
        var limits = limiter.RequestsPerMinute is { } rpm ? $"{rpm} requests/min" : "no known request limit";
        var cached = report.FromCache > 0 ? $", {report.FromCache} answered from the cache" : string.Empty;
        ctx.Ui.Info($"Sync: {report.Succeeded} answered, {report.Failed} failed{cached} in {Ui.Format.Duration(report.Elapsed)} ({limits}; {report.Attempts} HTTP attempts, {report.Throttled} throttled).");
        return (await JobStatusRules.RefreshAsync(ctx.Store, job, ct).ConfigureAwait(false), report.BudgetStop);
    }

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
    public static void EnsureBudgetPriced(CliContext ctx, string model, (bool Given, decimal? Usd) budget, decimal? storedBudget = null)
    {
        var jobBudget = budget.Given ? budget.Usd : storedBudget;
        if ((jobBudget is not null || ctx.Costs.DailyBudgetUsd is not null) && ctx.Prices.Find(model) is null)
        {
            throw Budgets.NeedsPrice(model, jobBudget is not null ? "--budget" : "budget.daily_usd");
        }
    }

    /// <summary>Stores <c>--budget</c> on the job when it was given and differs; returns the job as stored.</summary>
    public static async Task<JobRecord> ApplyBudgetAsync(CliContext ctx, JobRecord job, (bool Given, decimal? Usd) budget, CancellationToken ct)
    {
        if (!budget.Given || budget.Usd == job.BudgetUsd)
        {
            return job;
        }

        var reason = budget.Usd is { } usd ? $"Budget set to {Budgets.Money(usd)} (--budget)." : "Budget removed (--budget off).";
        await ctx.Store.SetJobBudgetAsync(job.Id, budget.Usd, reason, ct).ConfigureAwait(false);
        ctx.Ui.Info($"Job {job.Id}: {char.ToLowerInvariant(reason[0])}{reason[1..]}");
        return await ctx.Store.GetJobAsync(job.Id, ct).ConfigureAwait(false) ?? job;
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
            var now = ctx.Time.GetUtcNow().UtcDateTime;
            spend = (await ctx.Store.GetSpendAsync(job.Id, new DateTimeOffset(now.Date, TimeSpan.Zero), ct).ConfigureAwait(false)).Job;
        }

        return JobView.Of(job, counts, batches, withBatches, ctx.Prices, spend);
    }

    /// <summary>Exit code of a finished job: 0 only when every item succeeded.</summary>
    public static int ExitCodeOf(JobView view) =>
        view.Pending > 0 ? ExitCodes.Pending : (view.Succeeded == view.Total ? ExitCodes.Success : ExitCodes.ItemsFailed);

    /// <summary>
    /// Writes the merged output and prints the summary; returns the exit code (<see cref="ExitCodes.BudgetExceeded"/>
    /// with the one-line reason when <paramref name="budgetStop"/> says a budget held batches back).
    /// </summary>
    public static async Task<int> FinishAsync(CliContext ctx, JobRecord job, string? outPath, string responseColumn, DateTimeOffset started, BudgetRefusal? budgetStop, CancellationToken ct)
    {
        string? written = null;
        if (outPath is not null)
        {
            var format = JobExporter.FormatFromExtension(outPath);
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
            if (view.Failed + view.Expired + view.Cancelled > 0)
            {
                ctx.Ui.Info($"{view.Failed + view.Expired + view.Cancelled} item(s) did not succeed: see 'batchpilot status {job.Id}', then 'batchpilot resume {job.Id}' to send them again.");
            }

            if (view.CostUsd is null)
            {
                ctx.Ui.Warn($"no price is known for model {job.Spec.Model}: cost shown as unknown.");
            }
        }

        return budgetStop is not null ? BudgetExit(ctx, budgetStop) : ExitCodeOf(view);
    }

    /// <summary>Parses the provider flag or derives it from the model.</summary>
    public static string ProviderFor(string model, string? flag)
    {
        if (flag is not null)
        {
            var p = flag.Trim().ToLowerInvariant();
            if (p is not (ProviderNames.OpenAI or ProviderNames.Anthropic))
            {
                throw new InputException($"unknown provider '{flag}'", field: "--provider", hint: "use openai or anthropic");
            }

            // An OpenAI-compatible server may serve any model name, but Anthropic only serves claude-* models,
            // and a claude-* model is never served by OpenAI.
            var natural = ProviderNames.FromModel(model);
            if (natural != p && (p == ProviderNames.Anthropic || natural == ProviderNames.Anthropic))
            {
                throw new InputException($"the model '{model}' is not a model of {p}", field: "--model",
                    hint: p == ProviderNames.Anthropic ? "Anthropic models start with claude- (e.g. claude-haiku-4-5)" : $"drop --provider {flag} to send {model} to Anthropic");
            }

            return p;
        }

        if (model.Contains('/', StringComparison.Ordinal))
        {
            var prefix = model[..model.IndexOf('/', StringComparison.Ordinal)];
            throw new InputException($"the model id '{model}' has a provider prefix ('{prefix}/'), which only OpenRouter uses; batch jobs go to OpenAI or Anthropic directly",
                field: "--model", hint: $"drop the prefix (e.g. --model {model[(model.IndexOf('/', StringComparison.Ordinal) + 1)..]})");
        }

        return ProviderNames.FromModel(model);
    }

    public static string Plural(long n, string word) => n.ToString(CultureInfo.InvariantCulture) + " " + word + (n == 1 ? string.Empty : "s");
}
