using System.CommandLine;
using System.CommandLine.Parsing;
using BatchPilot.Cli.Ui;
using BatchPilot.Errors;
using BatchPilot.Exports;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;

namespace BatchPilot.Cli.Commands;

/// <summary>One variant of a comparison: a model and a prompt, with the label its columns carry.</summary>
/// <param name="Label">The model id, or <c>model/prompt</c> when several prompts are compared.</param>
/// <param name="Model">Model id.</param>
/// <param name="Provider">Provider of the model.</param>
/// <param name="Prompt">The prompt template.</param>
/// <param name="PromptOption">Where the prompt came from, for messages (<c>--prompt</c> or <c>--prompt-file FILE</c>).</param>
internal sealed record Variant(string Label, string Model, string Provider, string Prompt, string PromptOption)
{
    /// <summary>Where the variant's provider is reached (set once its key has been checked).</summary>
    public string Endpoint { get; init; } = string.Empty;
}

/// <summary>The variants of a comparison: every model × every prompt, models first.</summary>
internal sealed record Comparison(IReadOnlyList<Variant> Variants)
{
    /// <summary>
    /// Checks every variant's key and endpoint before anything is stored or sent (a missing key stops the command as for one
    /// job). One <c>--api-key</c> or <c>--base-url</c> cannot serve two providers.
    /// </summary>
    public Comparison WithEndpoints(CliContext ctx, bool useEmulator, string? apiKeyFlag, string? baseUrlFlag)
    {
        var providers = Variants.Select(v => v.Provider).Distinct(StringComparer.Ordinal).ToList();
        if (!useEmulator && providers.Count > 1 && (apiKeyFlag ?? baseUrlFlag) is not null)
        {
            var option = apiKeyFlag is not null ? "--api-key" : "--base-url";
            throw new InputException($"gives one {(apiKeyFlag is not null ? "key" : "URL")}, but the comparison uses {string.Join(" and ", providers)}", field: option,
                hint: "set each provider's key and base URL in the environment or config/user.yaml instead");
        }

        return this with { Variants = Variants.Select(v => v with { Endpoint = JobFlow.EndpointFor(ctx, v.Provider, v.Model, useEmulator, apiKeyFlag, baseUrlFlag) }).ToList() };
    }
}

/// <summary>
/// <c>batchpilot run</c> with several models and/or prompts: one ordinary job per variant (model × prompt), linked by a
/// comparison group, created, submitted, waited for and collected together, with a merged output that puts the variants
/// side by side. Each step is the single-job step (CreateJob, JobSteps, JobFlow), run for every child.
/// </summary>
internal static class CompareFlow
{
    /// <summary>
    /// The option value single-job code reads (the first model of a comma list, the first prompt); more than one value is
    /// an error on every verb but <c>run</c>.
    /// </summary>
    public static string? FirstValue(ArgumentResult result, string option, bool commaList)
    {
        var values = Values(result.Tokens.Select(t => t.Value).ToList(), commaList);
        if (values.Count > 1 && result.Parent?.Parent is CommandResult { Command.Name: var verb } && verb is not ("run" or "estimate"))
        {
            result.AddError($"{option} takes one value with '{verb}'; only 'batchpilot run' compares several (and 'batchpilot estimate' estimates them)");
        }

        return values.Count == 0 ? null : values[0];
    }

    private static List<string> Values(IReadOnlyList<string> tokens, bool commaList) =>
        commaList ? tokens.SelectMany(t => t.Split(',')).Select(v => v.Trim()).ToList() : [.. tokens];

    private static List<string> Tokens(ParseResult pr, Option option) =>
        pr.GetResult(option)?.Tokens.Select(t => t.Value).ToList() ?? [];

    /// <summary>
    /// The comparison a <c>run</c> command line asks for, or null for one model and one prompt (the single-job path).
    /// Reads and checks the model list and the prompt files; sends and stores nothing.
    /// </summary>
    public static Comparison? Read(ParseResult pr, CliContext ctx)
    {
        var rawModels = Tokens(pr, RunCommand.Model);
        var models = Values(rawModels, commaList: true);
        var inline = Tokens(pr, RunCommand.Prompt);
        var files = Tokens(pr, RunCommand.PromptFile);
        if ((models.Count <= 1 && inline.Count + files.Count <= 1) || (inline.Count > 0) == (files.Count > 0))
        {
            // One job, or a prompt mistake RunCommand reports in its own words.
            return null;
        }

        var estimating = !Has(pr, RunCommand.Mode) || pr.GetValue(RunCommand.EstimateCost);
        if (!estimating && pr.GetValue(RunCommand.Budget) is not null)
        {
            throw new InputException("a budget is set per job, and a comparison runs one job per model and prompt", field: "--budget",
                hint: "set budget.daily_usd in config/user.yaml to cap the whole day's spend, or run each variant alone with --budget");
        }

        for (var i = 0; i < models.Count; i++)
        {
            if (models[i].Length == 0)
            {
                throw new InputException($"'{string.Join(",", rawModels)}' has an empty model name", field: "--model", hint: "separate model ids with commas: --model gpt-4o-mini,claude-haiku-4-5");
            }

            if (models.IndexOf(models[i]) < i)
            {
                throw new InputException($"{models[i]} is listed twice", field: "--model", hint: "give each model once");
            }
        }

        var prompts = inline.Count > 0 ? InlinePrompts(inline) : FilePrompts(ctx, files);
        for (var i = 0; i < prompts.Count; i++)
        {
            var same = prompts.FindIndex(p => p.Text == prompts[i].Text);
            if (same < i)
            {
                throw new InputException($"{prompts[i].Name} is the same prompt as {prompts[same].Name}", field: inline.Count > 0 ? "--prompt" : "--prompt-file",
                    hint: "compare different prompts, or give the prompt once");
            }
        }

        var provider = pr.GetValue(RunCommand.Provider);
        var variants = new List<Variant>();
        foreach (var model in models)
        {
            var p = JobFlow.ProviderFor(ctx, model, provider);
            if (!estimating && RunCommand.ParseMode(pr.GetValue(RunCommand.Mode)) == JobMode.Batch)
            {
                JobFlow.RequireBatchApi(p, model);
            }

            foreach (var prompt in prompts)
            {
                variants.Add(new Variant(prompts.Count > 1 ? model + "/" + prompt.Label : model, model, p, prompt.Text, prompt.Option));
            }
        }

        return new Comparison(variants);
    }

    /// <summary>True when the command parsed has the option (estimate has none of run's sending options).</summary>
    private static bool Has(ParseResult pr, Option option) => pr.CommandResult.Command.Options.Contains(option);

    private static List<(string Label, string Text, string Option, string Name)> InlinePrompts(List<string> prompts)
    {
        var result = new List<(string, string, string, string)>();
        for (var i = 0; i < prompts.Count; i++)
        {
            var n = (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (string.IsNullOrWhiteSpace(prompts[i]))
            {
                throw new InputException($"prompt {n} is empty", field: "--prompt", hint: "write the instruction to send for each row");
            }

            result.Add(("p" + n, prompts[i], $"--prompt #{n}", "prompt " + n));
        }

        return result;
    }

    private static List<(string Label, string Text, string Option, string Name)> FilePrompts(CliContext ctx, List<string> files)
    {
        var result = new List<(string Label, string Text, string Option, string Name)>();
        foreach (var file in files)
        {
            var text = RunCommand.ReadTextFile(ctx.Resolve(file), "--prompt-file");
            if (string.IsNullOrWhiteSpace(text))
            {
                throw new InputException("the prompt is empty", file: file, field: "--prompt-file", hint: "write the instruction to send for each row");
            }

            // The file's stem names the variant; a stem seen before gets -2, -3…
            var stem = RunCommand.StemOf(file);
            var label = stem;
            for (var k = 2; result.Any(r => r.Label == label); k++)
            {
                label = stem + "-" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            result.Add((label, text, "--prompt-file " + file, file));
        }

        return result;
    }

    /// <summary>A child of a comparison, ready to run: its label, job, and the client and engine of its provider.</summary>
    private sealed record Child(string Label, JobRecord Job, IBatchClient Client, JobEngine Engine);

    /// <summary>
    /// Creates (or continues) the group and its children, submits them, waits for all of them in one live display, collects,
    /// and writes the side-by-side output. <paramref name="template"/> is the job spec RunCommand built for the first variant;
    /// each child's spec is it with the variant's provider, model, prompt and endpoint.
    /// </summary>
    public static async Task<int> RunAsync(
        CliContext ctx, ParseResult pr, Comparison comparison, JobSpec template, IReadOnlyList<string> columns,
        Func<CancellationToken, IEnumerable<SourceRow>> rows, string outPath, DateTimeOffset started, CancellationToken ct)
    {
        // Everything that can be refused is refused before anything is stored or sent.
        GroupExporter.EnsureSupported(JobExporter.FormatFromExtension(outPath));
        if (template.Mode == JobMode.Sync && pr.GetValue(RunCommand.Detach))
        {
            throw new InputException("sync mode sends and waits in this process; --detach is for batch mode", field: "--detach", hint: "drop --detach, or use --mode batch");
        }

        foreach (var v in comparison.Variants)
        {
            RunCommand.ValidateTemplates(v.Prompt, v.PromptOption, null, columns, template.InputPath);
        }

        var specs = comparison.Variants.Select(v => template with { Provider = v.Provider, Model = v.Model, Prompt = v.Prompt, Endpoint = v.Endpoint }).ToList();
        var name = pr.GetValue(RunCommand.Name) ?? RunCommand.StemOf(pr.GetValue(RunCommand.Input)!);
        var (group, groupCreated) = await OpenGroupAsync(ctx, name, comparison, specs, pr.GetValue(RunCommand.New), ct).ConfigureAwait(false);
        var children = new List<Child>();
        try
        {
            await CreateChildrenAsync(ctx, pr, group, groupCreated, specs, columns, rows, children, ct).ConfigureAwait(false);
            var mode = template.Mode;
            for (var i = 0; i < children.Count && mode == JobMode.Batch; i++)
            {
                if (children[i].Job.Status != JobStatus.Cancelled)
                {
                    await JobSteps.SubmitAsync(children[i].Engine, children[i].Job, ct).ConfigureAwait(false);
                }
            }

            if (pr.GetValue(RunCommand.Detach))
            {
                return await JobFlow.DetachedAsync(ctx, group.Id, async () => ctx.Ui.WriteJson(await ViewAsync(ctx, group, true, ct).ConfigureAwait(false), CliJson.Default.GroupView),
                    "rerun the same command to collect and write the output").ConfigureAwait(false);
            }

            // In sync mode this first finishes batches left by an earlier batch-mode attempt.
            var interval = TimeSpan.FromSeconds(pr.GetValue(RunCommand.CheckInterval) ?? (pr.GetValue(RunCommand.Emulator) ? 1 : 30));
            var jobs = await JobFlow.WaitAllAsync(ctx, children.Select(c => (c.Engine, c.Job)).ToList(), interval, TimeSpan.FromHours(pr.GetValue(RunCommand.Timeout)), group.Id, ct).ConfigureAwait(false);
            var done = new List<(string Label, JobRecord Job)>();

            // The daily budget (budget.daily_usd) may hold batches or sync chunks back: the first stop is reported at the end.
            var stop = children.Select(c => c.Engine.BudgetStop).FirstOrDefault(b => b is not null);
            for (var i = 0; i < children.Count; i++)
            {
                var job = jobs[i];
                if (mode == JobMode.Sync && job.Status != JobStatus.Cancelled && stop is null)
                {
                    ctx.Ui.Info($"{children[i].Label}: sending {job.Id} through the synchronous API.");
                    (job, stop) = await JobFlow.RunSyncAsync(ctx, job, pr.GetValue(RunCommand.ApiKey), ctx.Limiter(job.Spec.Model, job.Spec.Provider, RunCommand.RateFlags(pr)), RunCommand.SyncConcurrency(pr), null, ct).ConfigureAwait(false);
                }

                done.Add((children[i].Label, job));
            }

            var code = await FinishAsync(ctx, group, done, outPath, pr.GetValue(RunCommand.OutputColumn)!, started, ct).ConfigureAwait(false);
            return stop is not null ? JobFlow.BudgetExit(ctx, stop) : code;
        }
        finally
        {
            foreach (var c in children)
            {
                c.Client.Dispose();
            }
        }
    }

    /// <summary>
    /// The group of these children: the newest with the same fingerprint (the set of the children's fingerprints), unless
    /// <paramref name="startNew"/>; else a new one, stored with every child's job id reserved in one transaction. A new
    /// group adopts a job that already ran the same variant on its own (same fingerprint, in no group), so its answers are
    /// not paid twice.
    /// </summary>
    private static async Task<(GroupRecord Group, bool Created)> OpenGroupAsync(CliContext ctx, string name, Comparison comparison, IReadOnlyList<JobSpec> specs, bool startNew, CancellationToken ct)
    {
        var fingerprints = specs.Select(s => s.Fingerprint()).ToList();
        var fingerprint = GroupRecord.FingerprintOf(fingerprints);
        if (!startNew && await ctx.Groups.FindGroupByFingerprintAsync(fingerprint, ct).ConfigureAwait(false) is { } existing)
        {
            ctx.Ui.Info($"Continuing comparison {existing.Id} ({existing.Name}, created {Ui.Format.Time(existing.CreatedAt)}); use --new to start over.");
            return (existing, false);
        }

        var members = new List<GroupMember>();
        for (var i = 0; i < specs.Count; i++)
        {
            var jobId = CreateJob.NewJobId();
            if (!startNew
                && await ctx.Store.FindJobByFingerprintAsync(fingerprints[i], ct).ConfigureAwait(false) is { } solo
                && await ctx.Groups.GetGroupOfJobAsync(solo.Id, ct).ConfigureAwait(false) is null)
            {
                jobId = solo.Id;
            }

            members.Add(new GroupMember(i, comparison.Variants[i].Label, jobId, fingerprints[i]));
        }

        var group = new GroupRecord { Id = GroupRecord.NewGroupId(), Name = name, Fingerprint = fingerprint, CreatedAt = ctx.Time.GetUtcNow(), Members = members };
        await ctx.Groups.CreateGroupAsync(group, ct).ConfigureAwait(false);
        Checkpoints.Hit(Checkpoints.GroupCreated);
        ctx.Ui.Info($"Comparison {group.Id} created: {JobFlow.Plural(members.Count, "variant")} over the same rows ({string.Join(", ", members.Select(m => m.Label))}).");
        return (group, true);
    }

    /// <summary>
    /// Creates or continues each child under its reserved id, adding it to <paramref name="children"/> (whose clients the
    /// caller disposes). When a child's input is refused, the jobs and the group this run created are deleted again, so a
    /// bad file leaves nothing behind (as for one job).
    /// </summary>
    private static async Task CreateChildrenAsync(
        CliContext ctx, ParseResult pr, GroupRecord group, bool groupCreated, IReadOnlyList<JobSpec> specs, IReadOnlyList<string> columns,
        Func<CancellationToken, IEnumerable<SourceRow>> rows, List<Child> children, CancellationToken ct)
    {
        var createdNow = new List<string>();
        try
        {
            foreach (var spec in specs)
            {
                var member = group.Members.First(m => m.Fingerprint == spec.Fingerprint());
                var client = await ctx.ClientAsync(spec, pr.GetValue(RunCommand.ApiKey), pr.GetValue(RunCommand.BatchSize), ct).ConfigureAwait(false);
                CreateJobResult created;
                try
                {
                    created = await CreateJob.RunAsync(
                        ctx.Store,
                        new CreateJobRequest { Spec = spec, Name = $"{group.Name} [{member.Label}]", Columns = columns, Rows = rows, JobId = member.JobId },
                        client,
                        ctx.Time,
                        ct).ConfigureAwait(false);
                }
                catch
                {
                    client.Dispose();
                    throw;
                }

                children.Add(new Child(member.Label, created.Job, client, ctx.Engine(client, spec)));
                if (created.Created)
                {
                    createdNow.Add(created.Job.Id);
                }

                var emulated = spec.Endpoint == CliContext.EmulatorEndpoint ? " on the built-in emulator" : string.Empty;
                ctx.Ui.Info(created.Created
                    ? $"{member.Label}: job {created.Job.Id} created, {created.Items} items, {spec.Provider} / {spec.Model}{emulated}."
                    : $"{member.Label}: continuing job {created.Job.Id} ({created.Job.Status}).");
                Checkpoints.Hit(Checkpoints.GroupChild);
            }
        }
        catch (InputException) when (groupCreated)
        {
            foreach (var id in createdNow)
            {
                await ctx.Store.DeleteJobAsync(id, CancellationToken.None).ConfigureAwait(false);
            }

            await ctx.Groups.DeleteGroupAsync(group.Id, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The group's children in order, each with its job (null when the job was deleted).</summary>
    public static async Task<IReadOnlyList<(string Label, JobRecord? Job)>> ChildrenAsync(CliContext ctx, GroupRecord group, CancellationToken ct)
    {
        var variants = await Comparisons.VariantsAsync(ctx.Store, group, ct).ConfigureAwait(false);
        return [.. variants.Select(v => (v.Label, v.Job))];
    }

    /// <summary>The group's view: totals and each variant's job view.</summary>
    public static async Task<GroupView> ViewAsync(CliContext ctx, GroupRecord group, bool withBatches, CancellationToken ct) =>
        await ViewAsync(ctx, group, await ChildrenAsync(ctx, group, ct).ConfigureAwait(false), withBatches, ct).ConfigureAwait(false);

    private static async Task<GroupView> ViewAsync(CliContext ctx, GroupRecord group, IReadOnlyList<(string Label, JobRecord? Job)> children, bool withBatches, CancellationToken ct)
    {
        var views = new List<JobView>();
        var missing = new List<string>();
        foreach (var (label, job) in children)
        {
            if (job is null)
            {
                missing.Add(label);
                continue;
            }

            views.Add(await JobFlow.ViewAsync(ctx, job, withBatches, ct).ConfigureAwait(false) with { Group = group.Id, Variant = label });
        }

        return GroupView.Of(group, views, missing);
    }

    /// <summary>Exit code of a comparison: 0 only when every item of every variant succeeded; 6 while work is in flight.</summary>
    public static int ExitCodeOf(GroupView view) =>
        view.Pending > 0 ? ExitCodes.Pending : (view.Missing is null && view.Succeeded == view.Total ? ExitCodes.Success : ExitCodes.ItemsFailed);

    /// <summary>Writes the side-by-side output (when <paramref name="outPath"/> is given), prints the summary, returns the exit code.</summary>
    public static async Task<int> FinishAsync(CliContext ctx, GroupRecord group, IReadOnlyList<(string Label, JobRecord Job)> children, string? outPath, string responseColumn, DateTimeOffset started, CancellationToken ct)
    {
        string? written = null;
        if (outPath is not null)
        {
            var variants = children.Select(c => new ComparedJob(c.Label, c.Job)).ToList();
            await GroupExporter.ExportAsync(ctx.Store, group, variants, JobExporter.FormatFromExtension(outPath), outPath, new ExportOptions { ResponseColumn = responseColumn, Time = ctx.Time }, ct).ConfigureAwait(false);
            written = Path.GetFullPath(outPath);
        }

        var view = await ViewAsync(ctx, group, children.Select(c => (c.Label, (JobRecord?)c.Job)).ToList(), true, ct).ConfigureAwait(false);
        view = view with { Output = written, ElapsedSeconds = Math.Round((ctx.Time.GetUtcNow() - started).TotalSeconds, 3) };
        Show(ctx, view);
        return ExitCodeOf(view);
    }

    /// <summary>Prints a group's view: JSON, or its table and what to do about items that did not succeed.</summary>
    public static void Show(CliContext ctx, GroupView view)
    {
        if (ctx.Ui.Json)
        {
            ctx.Ui.WriteJson(view, CliJson.Default.GroupView);
            return;
        }

        ctx.Ui.Write(JobTables.Group(view));
        if (view.ElapsedSeconds is { } e)
        {
            ctx.Ui.Line("Elapsed: " + Ui.Format.Duration(TimeSpan.FromSeconds(e)));
        }

        if (view.Output is { } o)
        {
            ctx.Ui.Line("Output: " + o);
        }

        var notOk = view.Failed + view.Expired + view.Cancelled;
        if (notOk > 0)
        {
            ctx.Ui.Info($"{notOk} item(s) did not succeed: see 'batchpilot status {view.Id}', then 'batchpilot resume {view.Id}' to send them again.");
        }

        foreach (var m in view.Missing ?? [])
        {
            ctx.Ui.Warn($"the job of variant {m} was deleted; rerun the same 'batchpilot run' command to create it again.");
        }

        foreach (var model in view.Variants.Where(v => v.CostUsd is null).Select(v => v.Model).Distinct(StringComparer.Ordinal))
        {
            ctx.Ui.Warn($"no price is known for model {model}: cost shown as unknown.");
        }
    }
}
