using System.CommandLine;
using BatchPilot.Batches;
using BatchPilot.Cli.Ui;
using BatchPilot.Errors;
using BatchPilot.Exports;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Running;
using Spectre.Console;

namespace BatchPilot.Cli.Commands;

/// <summary>The verbs that act on stored jobs.</summary>
internal static class JobCommands
{
    private static readonly Argument<string> Job = new("JOB") { Description = "Job id (or a unique prefix of it, or the job name), or a comparison group's id (grp-…) or name: then every job of the group." };
    private static readonly Option<string?> ApiKey = new("--api-key") { Description = "API key (default: environment, .env, then config/user.yaml)." };

    public delegate Task<int> Host(ParseResult pr, Func<CliContext, CancellationToken, Task<int>> body, CancellationToken ct);

    public static Command Jobs(Host host)
    {
        var limit = new Option<int>("--limit") { Description = "How many jobs to list, newest first.", DefaultValueFactory = _ => 50 };
        var cmd = new Command("jobs", "List the job history: id, name, provider, model, status, items ok/failed/pending, cost, created.") { limit };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            var views = new List<JobView>();
            foreach (var j in await ctx.Store.ListJobsAsync(pr.GetValue(limit), token).ConfigureAwait(false))
            {
                var group = await ctx.Groups.GetGroupOfJobAsync(j.Id, token).ConfigureAwait(false);
                views.Add(await JobFlow.ViewAsync(ctx, j, false, token).ConfigureAwait(false) with { Group = group?.Id, Variant = group?.Members.FirstOrDefault(m => m.JobId == j.Id)?.Label });
            }

            if (ctx.Ui.Json)
            {
                ctx.Ui.WriteJson(views, CliJson.Default.ListJobView);
            }
            else if (views.Count == 0)
            {
                ctx.Ui.Line($"No jobs yet in {ctx.Store.Location}. Start one with 'batchpilot run'.");
            }
            else
            {
                ctx.Ui.Write(JobTables.Jobs(views));
            }

            return ExitCodes.Success;
        }, ct));
        return cmd;
    }

    public static Command Status(Host host)
    {
        var refresh = new Option<bool>("--refresh") { Description = "Ask the provider for fresh statuses (and collect ended batches) first." };
        var cmd = new Command("status", "Show a job's progress, ETA and per-batch detail.") { Job, refresh, ApiKey };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            if (await GroupVerbs.FindAsync(ctx, pr.GetValue(Job)!, token).ConfigureAwait(false) is { } group)
            {
                return await GroupVerbs.StatusAsync(ctx, group, pr.GetValue(refresh), pr.GetValue(ApiKey), token).ConfigureAwait(false);
            }

            var job = await ctx.RequireJobAsync(pr.GetValue(Job)!, token).ConfigureAwait(false);
            if (pr.GetValue(refresh))
            {
                using var client = await ctx.ClientAsync(job.Spec, pr.GetValue(ApiKey), null, token).ConfigureAwait(false);
                job = await ctx.Engine(client, job.Spec).StepAsync(job, token).ConfigureAwait(false);
            }

            return await ShowStatusAsync(ctx, job, token).ConfigureAwait(false);
        }, ct));
        return cmd;
    }

    private static async Task<int> ShowStatusAsync(CliContext ctx, JobRecord job, CancellationToken token)
    {
        var view = await JobFlow.ViewAsync(ctx, job, true, token).ConfigureAwait(false);
        if (ctx.Ui.Json)
        {
            ctx.Ui.WriteJson(view, CliJson.Default.JobView);
        }
        else
        {
            ctx.Ui.Write(JobTables.Summary(view));
            var batches = await ctx.Store.ListBatchesAsync(job.Id, token).ConfigureAwait(false);
            if (batches.Count > 0)
            {
                ctx.Ui.Write(JobTables.Batches(batches, ctx.Time.GetUtcNow(), job.Spec, ctx.Prices));
            }

            foreach (var b in batches.Where(b => b.Errors is not null))
            {
                ctx.Ui.Line($"Batch {b.Number} errors: {b.Errors}");
            }
        }

        return JobFlow.ExitCodeOf(view);
    }

    public static Command Watch(Host host)
    {
        var interval = new Option<double>("--check-interval") { Description = "Longest wait between status checks, in seconds.", DefaultValueFactory = _ => 30 };
        var timeout = new Option<double>("--timeout") { Description = "Stop watching after this many hours.", DefaultValueFactory = _ => 26 };
        var cmd = new Command("watch", "Follow a job live until every batch has ended and been collected.") { Job, interval, timeout, ApiKey };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            if (await GroupVerbs.FindAsync(ctx, pr.GetValue(Job)!, token).ConfigureAwait(false) is { } group)
            {
                return await GroupVerbs.WatchAsync(ctx, group, pr.GetValue(interval), pr.GetValue(timeout), pr.GetValue(ApiKey), token).ConfigureAwait(false);
            }

            var job = await ctx.RequireJobAsync(pr.GetValue(Job)!, token).ConfigureAwait(false);
            using var client = await ctx.ClientAsync(job.Spec, pr.GetValue(ApiKey), null, token).ConfigureAwait(false);
            var seconds = job.Spec.Endpoint == CliContext.EmulatorEndpoint ? Math.Min(pr.GetValue(interval), 1) : pr.GetValue(interval);
            var engine = ctx.Engine(client, job.Spec);
            job = await JobFlow.WaitAsync(ctx, engine, job, TimeSpan.FromSeconds(seconds), TimeSpan.FromHours(pr.GetValue(timeout)), token).ConfigureAwait(false);
            var code = await ShowStatusAsync(ctx, job, token).ConfigureAwait(false);
            return engine.BudgetStop is { } stop ? JobFlow.BudgetExit(ctx, stop) : code;
        }, ct));
        return cmd;
    }

    public static Command Collect(Host host)
    {
        var job = new Argument<string?>("JOB") { Description = "Job id, or a comparison group's id or name (omit with --all).", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "Collect every job with batches in flight." };
        var cmd = new Command("collect", "Fetch the results of every ended batch (one job, or --all).") { job, all, ApiKey };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            var id = pr.GetValue(job);
            if (id is null == !pr.GetValue(all))
            {
                throw new InputException("give a JOB or --all (not both)", field: "JOB");
            }

            var targets = id is not null
                ? await GroupVerbs.TargetsAsync(ctx, id, token).ConfigureAwait(false)
                : await ctx.Store.ListJobsAsync(int.MaxValue, token).ConfigureAwait(false);
            var results = new List<ActionView>();
            foreach (var j in targets)
            {
                var batches = await ctx.Store.ListBatchesAsync(j.Id, token).ConfigureAwait(false);
                if (id is null && !JobSteps.HasBatchesToCollect(batches))
                {
                    continue;
                }

                using var client = await ctx.ClientAsync(j.Spec, pr.GetValue(ApiKey), null, token).ConfigureAwait(false);
                var (report, updated) = await JobSteps.CollectAsync(ctx.Engine(client, j.Spec), j, token).ConfigureAwait(false);
                results.Add(new ActionView(j.Id, "collect", updated.Status.ToString(), report.Batches));
                ctx.Ui.Info($"{j.Id}: {JobFlow.Plural(report.Batches, "batch")} collected ({report.Applied} results); job is {updated.Status}.");
            }

            if (ctx.Ui.Json)
            {
                ctx.Ui.WriteJson(results, CliJson.Default.ListActionView);
            }
            else if (results.Count == 0)
            {
                ctx.Ui.Line("Nothing to collect.");
            }

            return ExitCodes.Success;
        }, ct));
        return cmd;
    }

    public static Command Resume(Host host)
    {
        var includeInvalid = new Option<bool>("--include-invalid") { Description = "Also resend items that failed for a reason a retry cannot fix (invalid request, context too long)." };
        var detach = new Option<bool>("--detach") { Description = "Return right after submission." };
        var interval = new Option<double?>("--check-interval") { Description = "Longest wait between status checks, in seconds." };
        var outOpt = new Option<string?>("--out", "-o") { Description = "Write the merged output here when done." };
        var cmd = new Command("resume", "Send the failed, expired and cancelled items of a job again as new batch(es) (or through the synchronous API with --mode sync); earlier attempts stay in the history.")
        {
            Job, includeInvalid, detach, interval, outOpt, ApiKey, RunCommand.Mode, RunCommand.Rpm, RunCommand.Tpm, RunCommand.Concurrency,
            RunCommand.Itpm, RunCommand.Otpm, RunCommand.ApiVersion, RunCommand.Budget, RunCommand.NoCache,
        };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            var started = ctx.Time.GetUtcNow();
            var budget = JobFlow.ParseBudget(pr.GetValue(RunCommand.Budget));
            ctx.NoCacheFlag = pr.GetValue(RunCommand.NoCache);
            if (await GroupVerbs.FindAsync(ctx, pr.GetValue(Job)!, token).ConfigureAwait(false) is { } group)
            {
                if (budget.Given)
                {
                    throw new InputException($"a budget is set per job, and {group.Id} is a comparison of several jobs", field: "--budget",
                        hint: "resume one variant's job with --budget (its id is in 'batchpilot status " + group.Id + "'), or set budget.daily_usd in config/user.yaml");
                }

                var options = new GroupVerbs.ResumeOptions(
                    pr.GetValue(includeInvalid), pr.GetValue(detach), pr.GetValue(interval), pr.GetValue(outOpt) is { } go ? ctx.Resolve(go) : null, pr.GetValue(ApiKey),
                    pr.GetResult(RunCommand.Mode) is { Implicit: false } ? RunCommand.ParseMode(pr.GetValue(RunCommand.Mode)) : null, RunCommand.RateFlags(pr), RunCommand.SyncConcurrency(pr));
                return await GroupVerbs.ResumeAsync(ctx, group, options, token).ConfigureAwait(false);
            }

            var job = await ctx.RequireJobAsync(pr.GetValue(Job)!, token).ConfigureAwait(false);
            JobFlow.EnsureBudgetPriced(ctx, job.Spec.Model, budget, job.BudgetUsd);
            job = await JobFlow.ApplyBudgetAsync(ctx, job, budget, token).ConfigureAwait(false);
            var mode = pr.GetResult(RunCommand.Mode) is { Implicit: false } ? RunCommand.ParseMode(pr.GetValue(RunCommand.Mode)) : job.Spec.Mode;
            if (mode == JobMode.Batch)
            {
                JobFlow.RequireBatchApi(job.Spec.Provider, job.Spec.Model);
            }

            ctx.ApiVersionFlag = pr.GetValue(RunCommand.ApiVersion);
            using var client = await ctx.ClientAsync(job.Spec, pr.GetValue(ApiKey), null, token).ConfigureAwait(false);
            var engine = ctx.Engine(client, job.Spec);
            int n;
            if (mode == JobMode.Sync && job.Spec.Kind == JobKind.Raw)
            {
                throw new InputException($"job {job.Id} came from a batch file (submit-file), whose results are the provider's batch lines", field: "--mode",
                    hint: "resume it in batch mode: leave out --mode sync");
            }

            if (mode == JobMode.Sync)
            {
                // A job can switch mode on resume: the same items are elected, then sent synchronously.
                job = await engine.StepAsync(job, token).ConfigureAwait(false);
                n = await engine.ResumeAsync(job, pr.GetValue(includeInvalid), token).ConfigureAwait(false);
                ctx.Ui.Info($"{JobFlow.Plural(n, "item")} will be sent again through the synchronous API.");
                job = (await ctx.Store.GetJobAsync(job.Id, token).ConfigureAwait(false))!;
                var stop = engine.BudgetStop;
                if (stop is null)
                {
                    (job, stop) = await JobFlow.RunSyncAsync(ctx, job, pr.GetValue(ApiKey), ctx.Limiter(job.Spec.Model, job.Spec.Provider, RunCommand.RateFlags(pr)), RunCommand.SyncConcurrency(pr), null, token).ConfigureAwait(false);
                }

                return await JobFlow.FinishAsync(ctx, job, pr.GetValue(outOpt) is { } so ? ctx.Resolve(so) : null, "response", started, stop, token).ConfigureAwait(false);
            }

            n = await JobSteps.ResumeAsync(engine, ctx.Store, job, pr.GetValue(includeInvalid), token).ConfigureAwait(false);
            await ResumeNoteAsync(ctx, job, n, string.Empty, token).ConfigureAwait(false);
            job = (await ctx.Store.GetJobAsync(job.Id, token).ConfigureAwait(false))!;
            if (pr.GetValue(detach))
            {
                ctx.Ui.Line(job.Id);
                return engine.BudgetStop is { } held ? JobFlow.BudgetExit(ctx, held) : ExitCodes.Success;
            }

            var seconds = pr.GetValue(interval) ?? (job.Spec.Endpoint == CliContext.EmulatorEndpoint ? 1 : 30);
            job = await JobFlow.WaitAsync(ctx, engine, job, TimeSpan.FromSeconds(seconds), TimeSpan.FromHours(26), token).ConfigureAwait(false);
            var resumeOut = pr.GetValue(outOpt) is { } o ? ctx.Resolve(o) : null;
            return await JobFlow.FinishAsync(ctx, job, resumeOut, "response", started, engine.BudgetStop, token).ConfigureAwait(false);
        }, ct));
        return cmd;
    }

    /// <summary>What resume says it will send again (or why nothing), prefixed for a comparison's variant.</summary>
    internal static async Task ResumeNoteAsync(CliContext ctx, JobRecord job, int n, string prefix, CancellationToken token)
    {
        if (n == 0)
        {
            var c = await ctx.Store.GetCountsAsync(job.Id, token).ConfigureAwait(false);
            ctx.Ui.Info(prefix + (c.Pending + c.InBatch > 0
                ? $"No failed item to send again; the {c.Pending + c.InBatch} item(s) still waiting (in flight, or held back by a budget) go on."
                : c.NotSucceeded > 0
                ? $"Nothing to resume: the {c.NotSucceeded} failed item(s) failed for reasons a retry cannot fix; fix the input, or use --include-invalid."
                : "Nothing to resume: every item succeeded or is still in flight."));
        }
        else
        {
            ctx.Ui.Info(prefix + $"{JobFlow.Plural(n, "item")} will be sent again.");
        }
    }

    public static Command Cancel(Host host)
    {
        var wait = new Option<double>("--wait") { Description = "Seconds to wait for the provider to finish cancelling and collect partial results (0: don't wait).", DefaultValueFactory = _ => 30 };
        var cmd = new Command("cancel", "Cancel a job: unsent items are cancelled, batches in flight are cancelled at the provider and their partial results collected.") { Job, wait, ApiKey };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            if (await GroupVerbs.FindAsync(ctx, pr.GetValue(Job)!, token).ConfigureAwait(false) is { } group)
            {
                return await GroupVerbs.CancelAsync(ctx, group, pr.GetValue(wait), pr.GetValue(ApiKey), token).ConfigureAwait(false);
            }

            var job = await ctx.RequireJobAsync(pr.GetValue(Job)!, token).ConfigureAwait(false);
            using var client = await ctx.ClientAsync(job.Spec, pr.GetValue(ApiKey), null, token).ConfigureAwait(false);
            var engine = ctx.Engine(client, job.Spec);
            var asked = await JobSteps.CancelAsync(engine, job, token).ConfigureAwait(false);
            if (asked < 0)
            {
                ctx.Ui.Info($"Job {job.Id} has already ended ({job.Status}); nothing to cancel.");
                if (ctx.Ui.Json)
                {
                    ctx.Ui.WriteJson(new ActionView(job.Id, "cancel", job.Status.ToString()), CliJson.Default.ActionView);
                }

                return ExitCodes.Success;
            }

            ctx.Ui.Info($"Job {job.Id} cancelled; {JobFlow.Plural(asked, "batch")} asked to stop at the provider.");
            await CollectCancelledAsync(ctx, [(engine, job)], pr.GetValue(wait), job.Id, token).ConfigureAwait(false);
            if (ctx.Ui.Json)
            {
                ctx.Ui.WriteJson(new ActionView(job.Id, "cancel", "Cancelled", asked), CliJson.Default.ActionView);
            }

            return ExitCodes.Success;
        }, ct));
        return cmd;
    }

    /// <summary>
    /// After a cancel: polls and collects the jobs for up to <paramref name="waitSeconds"/>, so requests that finished
    /// before the cancellation keep their answers. <paramref name="subject"/> is the id the note names (job or group).
    /// </summary>
    internal static async Task CollectCancelledAsync(CliContext ctx, IReadOnlyList<(JobEngine Engine, JobRecord Job)> jobs, double waitSeconds, string subject, CancellationToken token)
    {
        var deadline = ctx.Time.GetUtcNow() + TimeSpan.FromSeconds(waitSeconds);
        var delay = TimeSpan.FromMilliseconds(250);
        while (jobs.Count > 0)
        {
            var active = false;
            foreach (var (engine, job) in jobs)
            {
                await engine.PollAsync(job, token).ConfigureAwait(false);
                await engine.CollectAsync(job, token).ConfigureAwait(false);
                active |= JobSteps.HasActive(await ctx.Store.ListBatchesAsync(job.Id, token).ConfigureAwait(false));
            }

            if (!active || ctx.Time.GetUtcNow() >= deadline)
            {
                if (active)
                {
                    ctx.Ui.Info($"Some batches are still cancelling; 'batchpilot collect {subject}' fetches their partial results later.");
                }

                break;
            }

            await Task.Delay(delay, ctx.Time, token).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
        }
    }

    public static Command Delete(Host host)
    {
        var force = new Option<bool>("--force") { Description = "Delete even if batches are still in flight (they are cancelled at the provider first)." };
        var cmd = new Command("delete", "Delete a job and its results from the store (a comparison group: every job of it and the group).") { Job, force, ApiKey };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            if (await GroupVerbs.FindAsync(ctx, pr.GetValue(Job)!, token).ConfigureAwait(false) is { } group)
            {
                return await GroupVerbs.DeleteAsync(ctx, group, pr.GetValue(force), pr.GetValue(ApiKey), token).ConfigureAwait(false);
            }

            var job = await ctx.RequireJobAsync(pr.GetValue(Job)!, token).ConfigureAwait(false);
            var batches = await ctx.Store.ListBatchesAsync(job.Id, token).ConfigureAwait(false);
            var inFlight = batches.Where(b => b.State is BatchState.Submitted or BatchState.Submitting).ToList();
            if (inFlight.Count > 0)
            {
                if (!pr.GetValue(force))
                {
                    throw new InputException($"job {job.Id} has {JobFlow.Plural(inFlight.Count, "batch")} in flight at the provider", field: "JOB",
                        hint: $"cancel it first ('batchpilot cancel {job.Id}') or add --force");
                }

                using var client = await ctx.ClientAsync(job.Spec, pr.GetValue(ApiKey), null, token).ConfigureAwait(false);
                await ctx.Engine(client, job.Spec).CancelAsync(job, token).ConfigureAwait(false);
            }

            await ctx.Store.DeleteJobAsync(job.Id, token).ConfigureAwait(false);
            ctx.Ui.Info($"Job {job.Id} ({job.Name}) deleted.");
            if (ctx.Ui.Json)
            {
                ctx.Ui.WriteJson(new ActionView(job.Id, "delete", "Deleted"), CliJson.Default.ActionView);
            }

            return ExitCodes.Success;
        }, ct));
        return cmd;
    }

    public static Command Export(Host host)
    {
        var format = new Option<string?>("--format", "-f") { Description = "csv, jsonl, md, docx, xlsx, or provider (a submit-file job's results in its provider's output format) (default: from the --out extension, else csv)." };
        format.AcceptOnlyFromAmong("csv", "jsonl", "md", "markdown", "docx", "xlsx", "provider");
        var outOpt = new Option<string>("--out", "-o") { Description = "Output file (with --split: a folder).", Required = true };
        var column = new Option<string>("--output-column") { Description = "Name of the response column (csv, xlsx).", DefaultValueFactory = _ => "response" };
        var split = new Option<bool>("--split") { Description = "md only: one Markdown file per item in the --out folder, plus _index.md." };
        var title = new Option<string?>("--title") { Description = "Document title (md, docx; default: the job name)." };
        var cmd = new Command("export", "Write a job's items and results to a file: csv, jsonl, Markdown or Word with the job and batch ids and timestamps, or xlsx. Reads the store, so it works after the provider deleted its files.") { Job, format, outOpt, column, split, title };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            var path = ctx.Resolve(pr.GetValue(outOpt)!);
            var fmt = pr.GetValue(format) is { } name && JobExporter.TryParseFormat(name, out var parsed)
                ? parsed
                : (pr.GetValue(split) ? ExportFormat.Markdown : JobExporter.FormatFromExtension(path));
            var options = new ExportOptions { ResponseColumn = pr.GetValue(column)!, Split = pr.GetValue(split), Title = pr.GetValue(title), Time = ctx.Time, Prices = ctx.Prices };
            if (await GroupVerbs.FindAsync(ctx, pr.GetValue(Job)!, token).ConfigureAwait(false) is { } group)
            {
                return await GroupVerbs.ExportAsync(ctx, group, fmt, path, options, token).ConfigureAwait(false);
            }

            var job = await ctx.RequireJobAsync(pr.GetValue(Job)!, token).ConfigureAwait(false);
            var rows = await JobExporter.ExportAsync(ctx.Store, job, fmt, path, options, token).ConfigureAwait(false);
            ctx.Ui.Info($"{rows} items written to {Path.GetFullPath(path)}.");
            if (ctx.Ui.Json)
            {
                ctx.Ui.WriteJson(new ActionView(job.Id, "export", "Written", rows, Path.GetFullPath(path)), CliJson.Default.ActionView);
            }

            return ExitCodes.Success;
        }, ct));
        return cmd;
    }
}
