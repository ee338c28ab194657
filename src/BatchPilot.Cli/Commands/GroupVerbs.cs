using BatchPilot.Batches;
using BatchPilot.Cli.Ui;
using BatchPilot.Errors;
using BatchPilot.Exports;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;

namespace BatchPilot.Cli.Commands;

/// <summary>
/// The job verbs (status, watch, collect, resume, cancel, delete, export) given a comparison group's id or name: each acts
/// on every child job with the single-job steps, and the group's view sums them up.
/// </summary>
internal static class GroupVerbs
{
    /// <summary>
    /// The group a JOB argument names, or null when it names none (then it is a job). <c>job-…</c> is always a job,
    /// <c>grp-…</c> a group; a name that both a job and a group carry is refused.
    /// </summary>
    public static async Task<GroupRecord?> FindAsync(CliContext ctx, string idOrName, CancellationToken ct)
    {
        if (idOrName.StartsWith("job-", StringComparison.Ordinal) || await ctx.Groups.GetGroupAsync(idOrName, ct).ConfigureAwait(false) is not { } group)
        {
            return null;
        }

        if (!idOrName.StartsWith("grp-", StringComparison.Ordinal) && await ctx.Store.GetJobAsync(idOrName, ct).ConfigureAwait(false) is { } job)
        {
            throw new InputException($"'{idOrName}' names both job {job.Id} and comparison {group.Id}", field: "JOB", hint: $"give the id: {job.Id} or {group.Id}");
        }

        return group;
    }

    /// <summary>The jobs a JOB argument names: a job, or every existing child of a group.</summary>
    public static async Task<IReadOnlyList<JobRecord>> TargetsAsync(CliContext ctx, string idOrName, CancellationToken ct) =>
        await FindAsync(ctx, idOrName, ct).ConfigureAwait(false) is { } group
            ? [.. (await ChildrenAsync(ctx, group, ct).ConfigureAwait(false)).Select(c => c.Job)]
            : [await ctx.RequireJobAsync(idOrName, ct).ConfigureAwait(false)];

    /// <summary>The group's existing children (a deleted one is skipped with a note).</summary>
    public static async Task<IReadOnlyList<(string Label, JobRecord Job)>> ChildrenAsync(CliContext ctx, GroupRecord group, CancellationToken ct)
    {
        var result = new List<(string, JobRecord)>();
        foreach (var (label, job) in await CompareFlow.ChildrenAsync(ctx, group, ct).ConfigureAwait(false))
        {
            if (job is null)
            {
                ctx.Ui.Warn($"the job of variant {label} was deleted; rerun the same 'batchpilot run' command to create it again.");
                continue;
            }

            result.Add((label, job));
        }

        return result;
    }

    /// <summary>A client and engine for each child, disposed together.</summary>
    private sealed class Engines : IDisposable
    {
        private readonly List<IBatchClient> _clients = [];

        public List<(string Label, JobEngine Engine, JobRecord Job)> Children { get; } = [];

        public static async Task<Engines> OpenAsync(CliContext ctx, IReadOnlyList<(string Label, JobRecord Job)> children, string? apiKey, CancellationToken ct)
        {
            var engines = new Engines();
            try
            {
                foreach (var (label, job) in children)
                {
                    var client = await ctx.ClientAsync(job.Spec, apiKey, null, ct).ConfigureAwait(false);
                    engines._clients.Add(client);
                    engines.Children.Add((label, ctx.Engine(client, job.Spec), job));
                }

                return engines;
            }
            catch
            {
                engines.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            foreach (var c in _clients)
            {
                c.Dispose();
            }
        }
    }

    /// <summary><c>status GROUP [--refresh]</c>.</summary>
    public static async Task<int> StatusAsync(CliContext ctx, GroupRecord group, bool refresh, string? apiKey, CancellationToken ct)
    {
        if (refresh)
        {
            using var engines = await Engines.OpenAsync(ctx, await ChildrenAsync(ctx, group, ct).ConfigureAwait(false), apiKey, ct).ConfigureAwait(false);
            foreach (var (_, engine, job) in engines.Children)
            {
                await engine.StepAsync(job, ct).ConfigureAwait(false);
            }
        }

        return await ShowStatusAsync(ctx, group, ct).ConfigureAwait(false);
    }

    private static async Task<int> ShowStatusAsync(CliContext ctx, GroupRecord group, CancellationToken ct)
    {
        var view = await CompareFlow.ViewAsync(ctx, group, true, ct).ConfigureAwait(false);
        CompareFlow.Show(ctx, view);
        if (!ctx.Ui.Json)
        {
            foreach (var v in view.Variants)
            {
                var batches = await ctx.Store.ListBatchesAsync(v.Id, ct).ConfigureAwait(false);
                ctx.Ui.Line($"{v.Variant} ({v.Id}):");
                if (batches.Count > 0)
                {
                    ctx.Ui.Write(JobTables.Batches(batches, ctx.Time.GetUtcNow()));
                }

                foreach (var b in batches.Where(b => b.Errors is not null))
                {
                    ctx.Ui.Line($"Batch {b.Number} errors: {b.Errors}");
                }
            }
        }

        return CompareFlow.ExitCodeOf(view);
    }

    /// <summary><c>watch GROUP</c>: every child in one live display until all have ended, then the group's status.</summary>
    public static async Task<int> WatchAsync(CliContext ctx, GroupRecord group, double intervalSeconds, double timeoutHours, string? apiKey, CancellationToken ct)
    {
        var children = await ChildrenAsync(ctx, group, ct).ConfigureAwait(false);
        using var engines = await Engines.OpenAsync(ctx, children, apiKey, ct).ConfigureAwait(false);
        var seconds = children.All(c => c.Job.Spec.Endpoint == CliContext.EmulatorEndpoint) ? Math.Min(intervalSeconds, 1) : intervalSeconds;
        await JobFlow.WaitAllAsync(ctx, engines.Children.Select(c => (c.Engine, c.Job)).ToList(), TimeSpan.FromSeconds(seconds), TimeSpan.FromHours(timeoutHours), group.Id, ct).ConfigureAwait(false);
        return await ShowStatusAsync(ctx, group, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>resume GROUP</c>: each child's failed, expired and cancelled items are sent again (in batch mode, all submitted
    /// before the common wait), then the side-by-side output is written when <paramref name="outPath"/> is given.
    /// </summary>
    public static async Task<int> ResumeAsync(CliContext ctx, GroupRecord group, ResumeOptions options, CancellationToken ct)
    {
        var started = ctx.Time.GetUtcNow();
        var children = await ChildrenAsync(ctx, group, ct).ConfigureAwait(false);
        if (options.Mode == JobMode.Sync && options.Detach)
        {
            throw new InputException("sync mode sends and waits in this process; --detach is for batch mode", field: "--detach", hint: "drop --detach, or leave out --mode sync");
        }

        using var engines = await Engines.OpenAsync(ctx, children, options.ApiKey, ct).ConfigureAwait(false);
        var jobs = new List<(JobEngine Engine, JobRecord Job)>();
        BudgetRefusal? stop = null;
        foreach (var (label, engine, job) in engines.Children)
        {
            var mode = options.Mode ?? job.Spec.Mode;
            int n;
            if (mode == JobMode.Sync)
            {
                var stepped = await engine.StepAsync(job, ct).ConfigureAwait(false);
                n = await engine.ResumeAsync(stepped, options.IncludeInvalid, ct).ConfigureAwait(false);
            }
            else
            {
                n = await JobSteps.ResumeAsync(engine, ctx.Store, job, options.IncludeInvalid, ct).ConfigureAwait(false);
            }

            await JobCommands.ResumeNoteAsync(ctx, job, n, label + ": ", ct).ConfigureAwait(false);
            var current = (await ctx.Store.GetJobAsync(job.Id, ct).ConfigureAwait(false))!;
            stop ??= engine.BudgetStop;
            if (mode == JobMode.Sync && stop is null)
            {
                (current, stop) = await JobFlow.RunSyncAsync(ctx, current, options.ApiKey, ctx.Limiter(current.Spec.Model, current.Spec.Provider, options.Rates), options.Concurrency, null, ct).ConfigureAwait(false);
            }

            jobs.Add((engine, current));
        }

        if (options.Detach)
        {
            ctx.Ui.Line(group.Id);
            return ExitCodes.Success;
        }

        var seconds = options.CheckInterval ?? (children.All(c => c.Job.Spec.Endpoint == CliContext.EmulatorEndpoint) ? 1 : 30);
        var done = await JobFlow.WaitAllAsync(ctx, jobs, TimeSpan.FromSeconds(seconds), TimeSpan.FromHours(26), group.Id, ct).ConfigureAwait(false);
        var code = await CompareFlow.FinishAsync(ctx, group, children.Select((c, i) => (c.Label, done[i])).ToList(), options.OutPath, "response", started, ct).ConfigureAwait(false);
        stop ??= jobs.Select(j => j.Engine.BudgetStop).FirstOrDefault(b => b is not null);
        return stop is not null ? JobFlow.BudgetExit(ctx, stop) : code;
    }

    /// <summary>What <c>resume</c> was asked, for a group.</summary>
    internal sealed record ResumeOptions(bool IncludeInvalid, bool Detach, double? CheckInterval, string? OutPath, string? ApiKey, JobMode? Mode, CliContext.RateLimitFlags Rates, int Concurrency);

    /// <summary><c>cancel GROUP</c>: every child is cancelled, then their partial results are collected within one wait.</summary>
    public static async Task<int> CancelAsync(CliContext ctx, GroupRecord group, double waitSeconds, string? apiKey, CancellationToken ct)
    {
        using var engines = await Engines.OpenAsync(ctx, await ChildrenAsync(ctx, group, ct).ConfigureAwait(false), apiKey, ct).ConfigureAwait(false);
        var results = new List<ActionView>();
        var stopping = new List<(JobEngine Engine, JobRecord Job)>();
        foreach (var (label, engine, job) in engines.Children)
        {
            var asked = await JobSteps.CancelAsync(engine, job, ct).ConfigureAwait(false);
            if (asked < 0)
            {
                ctx.Ui.Info($"{label}: job {job.Id} has already ended ({job.Status}); nothing to cancel.");
                results.Add(new ActionView(job.Id, "cancel", job.Status.ToString()));
                continue;
            }

            ctx.Ui.Info($"{label}: job {job.Id} cancelled; {JobFlow.Plural(asked, "batch")} asked to stop at the provider.");
            results.Add(new ActionView(job.Id, "cancel", "Cancelled", asked));
            stopping.Add((engine, job));
        }

        await JobCommands.CollectCancelledAsync(ctx, stopping, waitSeconds, group.Id, ct).ConfigureAwait(false);
        if (ctx.Ui.Json)
        {
            ctx.Ui.WriteJson(results, CliJson.Default.ListActionView);
        }

        return ExitCodes.Success;
    }

    /// <summary><c>delete GROUP [--force]</c>: every child and the group; refused while a child has batches in flight, unless forced.</summary>
    public static async Task<int> DeleteAsync(CliContext ctx, GroupRecord group, bool force, string? apiKey, CancellationToken ct)
    {
        var children = await ChildrenAsync(ctx, group, ct).ConfigureAwait(false);
        var inFlight = new List<(string Label, JobRecord Job)>();
        foreach (var c in children)
        {
            var batches = await ctx.Store.ListBatchesAsync(c.Job.Id, ct).ConfigureAwait(false);
            if (batches.Any(b => b.State is BatchState.Submitted or BatchState.Submitting))
            {
                inFlight.Add(c);
            }
        }

        if (inFlight.Count > 0)
        {
            if (!force)
            {
                throw new InputException($"comparison {group.Id} has batches in flight at the provider ({string.Join(", ", inFlight.Select(c => $"{c.Label}: {c.Job.Id}"))})", field: "JOB",
                    hint: $"cancel it first ('batchpilot cancel {group.Id}') or add --force");
            }

            using var engines = await Engines.OpenAsync(ctx, inFlight, apiKey, ct).ConfigureAwait(false);
            foreach (var (_, engine, job) in engines.Children)
            {
                await engine.CancelAsync(job, ct).ConfigureAwait(false);
            }
        }

        var results = new List<ActionView>();
        foreach (var (label, job) in children)
        {
            await ctx.Store.DeleteJobAsync(job.Id, ct).ConfigureAwait(false);
            results.Add(new ActionView(job.Id, "delete", "Deleted"));
        }

        await ctx.Groups.DeleteGroupAsync(group.Id, ct).ConfigureAwait(false);
        results.Add(new ActionView(group.Id, "delete", "Deleted"));
        ctx.Ui.Info($"Comparison {group.Id} ({group.Name}) deleted with its {JobFlow.Plural(children.Count, "job")}: {string.Join(", ", children.Select(c => c.Job.Id))}.");
        if (ctx.Ui.Json)
        {
            ctx.Ui.WriteJson(results, CliJson.Default.ListActionView);
        }

        return ExitCodes.Success;
    }

    /// <summary><c>export GROUP --out FILE</c>: the side-by-side file (csv, jsonl, md, docx).</summary>
    public static async Task<int> ExportAsync(CliContext ctx, GroupRecord group, ExportFormat format, string path, ExportOptions options, CancellationToken ct)
    {
        GroupExporter.EnsureSupported(format, options.Split);
        var children = await ChildrenAsync(ctx, group, ct).ConfigureAwait(false);
        if (children.Count == 0)
        {
            throw new InputException($"every job of comparison {group.Id} was deleted", field: "JOB", hint: "rerun the 'batchpilot run' command that created it", exitCode: ExitCodes.NotFound);
        }

        var rows = await GroupExporter.ExportAsync(ctx.Store, group, children.Select(c => new ComparedJob(c.Label, c.Job)).ToList(), format, path, options, ct).ConfigureAwait(false);
        ctx.Ui.Info($"{rows} rows of {JobFlow.Plural(children.Count, "variant")} written to {Path.GetFullPath(path)}.");
        if (ctx.Ui.Json)
        {
            ctx.Ui.WriteJson(new ActionView(group.Id, "export", "Written", rows, Path.GetFullPath(path)), CliJson.Default.ActionView);
        }

        return ExitCodes.Success;
    }
}
