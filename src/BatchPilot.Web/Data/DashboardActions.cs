using System.Globalization;
using BatchPilot.Batches;
using BatchPilot.Errors;
using BatchPilot.Exports;
using BatchPilot.Inputs;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Planning;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage;
using BatchPilot.Web.Api;
using BatchPilot.Web.Hosting;

namespace BatchPilot.Web.Data;

/// <summary>A job was not found.</summary>
internal sealed class JobNotFoundException(string id) : Exception($"no job '{id}'")
{
    public string Id { get; } = id;
}

/// <summary>An export ready to be sent (a temporary file, deleted after sending).</summary>
internal sealed record ExportFile(string Path, string FileName, string ContentType);

/// <summary>
/// What the buttons and the API do. Each is a thin shell over the engine's operations (<see cref="JobSteps"/>,
/// <see cref="CreateJob"/>, <see cref="JobExporter"/>), the same as the CLI verbs.
/// </summary>
internal sealed class DashboardActions(DashboardState state)
{
    public static readonly string[] ExportFormats = ["csv", "jsonl", "md", "docx", "xlsx"];

    public async Task<JobRecord> RequireAsync(string id, CancellationToken ct) =>
        await state.Options.Store.GetJobAsync(id, ct) ?? throw new JobNotFoundException(id);

    public async Task<ActionDto> RefreshAsync(string id, CancellationToken ct)
    {
        var job = await RequireAsync(id, ct);
        var updated = await state.Runner.WithEngineAsync(job, (engine, _) => JobSteps.RefreshAsync(engine, job, ct), ct);
        await state.Index.RefreshAsync(ct);
        var c = await state.Options.Store.GetCountsAsync(job.Id, ct);
        return new ActionDto(job.Id, "refresh", updated.Status.ToString(), c.Ended, $"Status refreshed: {Html(updated.Status)}, {c.Ended:N0} of {c.Total:N0} items done.");
    }

    public async Task<ActionDto> CollectAsync(string id, CancellationToken ct)
    {
        var job = await RequireAsync(id, ct);
        var (report, updated) = await state.Runner.WithEngineAsync(job, (engine, _) => JobSteps.CollectAsync(engine, job, ct), ct);
        await state.Index.RefreshAsync(ct);
        return new ActionDto(job.Id, "collect", updated.Status.ToString(), report.Batches,
            report.Batches == 0 ? "No batch had finished: nothing to collect yet." : $"{Plural(report.Batches, "batch")} collected ({report.Applied:N0} results); the job is {Html(updated.Status)}.");
    }

    public async Task<IReadOnlyList<ActionDto>> CollectAllAsync(CancellationToken ct)
    {
        // The index knows which jobs have batches at the provider (it re-reads those every cycle): only they are read again.
        await state.Index.RefreshAsync(ct);
        var results = new List<ActionDto>();
        foreach (var s in state.Index.Current.Jobs.Where(j => j.ActiveBatches > 0 || !j.IsFinal).OrderBy(j => j.Job.CreatedAt).ToList())
        {
            var job = await state.Options.Store.GetJobAsync(s.Id, ct);
            if (job is null || !JobSteps.HasBatchesToCollect(await state.Options.Store.ListBatchesAsync(job.Id, ct)))
            {
                continue;
            }

            try
            {
                var (report, updated) = await state.Runner.WithEngineAsync(job, (engine, _) => JobSteps.CollectAsync(engine, job, ct), ct);
                results.Add(new ActionDto(job.Id, "collect", updated.Status.ToString(), report.Batches, $"{job.Id}: {Plural(report.Batches, "batch")} collected ({report.Applied:N0} results)."));
            }
            catch (Exception ex) when (ex is InputException or ProviderException)
            {
                results.Add(new ActionDto(job.Id, "collect", "Error", null, $"{job.Id}: {JobRunner.Describe(ex)}"));
            }
        }

        await state.Index.RefreshAsync(ct);
        return results;
    }

    /// <summary>
    /// As <c>resume</c>: the failed, expired and cancelled items go out again; with <paramref name="noCache"/> (as
    /// <c>--no-cache</c>) the response cache is not read for them.
    /// </summary>
    public async Task<ActionDto> ResumeAsync(string id, bool includeInvalid, CancellationToken ct, CancellationToken stopping = default, bool noCache = false)
    {
        var job = await RequireAsync(id, ct);
        state.Runner.SetNoCache(job.Id, noCache);
        int n;
        if (job.Spec.Mode == JobMode.Sync && state.Runner.CanSync)
        {
            // As 'batchpilot resume --mode sync': the same items are elected, then sent through the synchronous API.
            n = await state.Runner.WithEngineAsync(job, async (engine, _) =>
            {
                var current = await JobSteps.RefreshAsync(engine, job, ct);
                return await engine.ResumeAsync(current, includeInvalid, ct);
            }, ct);
            if (n > 0)
            {
                state.Runner.SendSyncInBackground(job, new SyncSettings(), stopping);
            }
        }
        else
        {
            n = await state.Runner.WithEngineAsync(job, (engine, _) => JobSteps.ResumeAsync(engine, state.Options.Store, job, includeInvalid, ct), ct);
        }

        var c = await state.Options.Store.GetCountsAsync(job.Id, ct);
        await state.Index.RefreshAsync(ct);
        var message = n > 0
            ? $"{Plural(n, "item")} will be sent again as a new attempt."
            : c.NotSucceeded > 0
                ? $"Nothing to resume: the {c.NotSucceeded:N0} failed item(s) failed for reasons a retry cannot fix; fix the input, or tick \"also items a retry cannot fix\"."
                : "Nothing to resume: every item succeeded or is still in flight.";
        return new ActionDto(job.Id, "resume", n > 0 ? "Resumed" : "Nothing", n, message);
    }

    public async Task<ActionDto> CancelAsync(string id, CancellationToken ct)
    {
        var job = await RequireAsync(id, ct);
        state.Runner.StopBackground(job.Id);
        var asked = await state.Runner.WithEngineAsync(job, (engine, _) => JobSteps.CancelAsync(engine, job, ct), ct);
        await state.Index.RefreshAsync(ct);
        return asked < 0
            ? new ActionDto(job.Id, "cancel", job.Status.ToString(), 0, $"Job {job.Id} has already ended ({Html(job.Status)}); nothing to cancel.")
            : new ActionDto(job.Id, "cancel", "Cancelled", asked, $"Job {job.Id} cancelled; {Plural(asked, "batch")} asked to stop at the provider (their partial results are collected when they end).");
    }

    public async Task<ActionDto> DeleteAsync(string id, bool force, CancellationToken ct)
    {
        var job = await RequireAsync(id, ct);
        var batches = await state.Options.Store.ListBatchesAsync(job.Id, ct);
        var inFlight = batches.Count(b => b.State is BatchState.Submitted or BatchState.Submitting && b.ProviderStatus != SyncRunner.SyncStatus);
        if (force || inFlight == 0)
        {
            state.Runner.StopBackground(job.Id);
        }

        if (inFlight > 0)
        {
            if (!force)
            {
                throw new InputException($"job {job.Id} has {Plural(inFlight, "batch")} in flight at the provider", field: "JOB",
                    hint: "cancel it first, or tick \"cancel its batches at the provider first\"");
            }

            await state.Runner.WithEngineAsync(job, (engine, _) => engine.CancelAsync(job, ct), ct);
        }

        await state.Runner.LockedAsync(job.Id, () => state.Options.Store.DeleteJobAsync(job.Id, ct), ct);
        await state.Index.RefreshAsync(ct);
        return new ActionDto(job.Id, "delete", "Deleted", null, $"Job {job.Id} ({job.Name}) deleted.");
    }

    public async Task<ExportFile> ExportAsync(string id, string format, CancellationToken ct)
    {
        var job = await RequireAsync(id, ct);
        if (!JobExporter.TryParseFormat(format, out var fmt))
        {
            throw new InputException($"unknown export format '{format}'", field: "format", hint: "use csv, jsonl, md, docx or xlsx (provider for a batch file's job)");
        }

        var ext = JobExporter.ExtensionOf(fmt);
        var path = StagedExportPath(ext);
        await JobExporter.ExportAsync(state.Options.Store, job, fmt, path, new ExportOptions { Time = state.Time }, ct);
        return new ExportFile(path, $"{SafeFileName(job.Name)}-{job.Id}{(fmt == ExportFormat.Provider ? ".output" : string.Empty)}{ext}", ContentTypeOf(fmt));
    }

    /// <summary>
    /// A comparison group's side-by-side file, as <c>export grp-… --out FILE</c>: csv, jsonl, md or docx, the variants'
    /// answers in columns (a deleted variant's job is left out).
    /// </summary>
    public async Task<ExportFile> ExportGroupAsync(string id, string format, CancellationToken ct)
    {
        if (state.Options.Store is not IGroupStore groups || await groups.GetGroupAsync(id, ct) is not { } group)
        {
            throw new InputException($"no comparison group '{id}'", field: "group", hint: "open a job of the comparison from the job list, which links to its group");
        }

        if (!JobExporter.TryParseFormat(format, out var fmt))
        {
            throw new InputException($"unknown export format '{format}'", field: "format", hint: "use csv, jsonl, md or docx");
        }

        GroupExporter.EnsureSupported(fmt);
        var variants = (await Comparisons.VariantsAsync(state.Options.Store, group, ct)).Where(v => v.Job is not null).Select(v => new ComparedJob(v.Label, v.Job!)).ToList();
        if (variants.Count == 0)
        {
            throw new InputException($"every job of comparison {group.Id} was deleted", field: "group", hint: "rerun the 'batchpilot run' command that created it");
        }

        var ext = JobExporter.ExtensionOf(fmt);
        var path = StagedExportPath(ext);
        await GroupExporter.ExportAsync(state.Options.Store, group, variants, fmt, path, new ExportOptions { Time = state.Time }, ct);
        return new ExportFile(path, $"{SafeFileName(group.Name)}-{group.Id}{ext}", ContentTypeOf(fmt));
    }

    private string StagedExportPath(string ext)
    {
        var dir = Path.Combine(state.Options.DataDirectory, "exports");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, Guid.NewGuid().ToString("N") + ext);
    }

    private static string SafeFileName(string name) => new(name.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' ? ch : '_').ToArray());

    private static string ContentTypeOf(ExportFormat fmt) => fmt switch
    {
        ExportFormat.Jsonl or ExportFormat.Provider => "application/x-ndjson; charset=utf-8",
        ExportFormat.Markdown => "text/markdown; charset=utf-8",
        ExportFormat.Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ExportFormat.Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "text/csv; charset=utf-8",
    };

    // ------------------------------------------------------------------ new job

    public InputRef ResolveInput(string? reference) =>
        state.Uploads.Resolve(reference) ?? throw new InputException(string.IsNullOrWhiteSpace(reference) ? "no input file chosen" : "the chosen input file no longer exists",
            field: "input", hint: "upload a CSV or JSONL file, or pick one from the allowed folder");

    public static UploadDto Describe(InputRef input)
    {
        using var reader = TableReader.Open(input.Path, TableReadOptions.Default);
        return new UploadDto(input.Reference, input.DisplayName, reader.Format, reader.Columns);
    }

    /// <summary>Validates the form and builds the job's spec.</summary>
    public (JobSpec Spec, IReadOnlyList<string> Columns, InputRef Input, string Name) Prepare(CreateJobDto form)
    {
        var input = ResolveInput(form.Input);
        var model = form.Model?.Trim();
        if (string.IsNullOrEmpty(model))
        {
            throw new InputException("choose a model", field: "model", hint: "e.g. gpt-4o-mini or claude-haiku-4-5");
        }

        if (string.IsNullOrWhiteSpace(form.Prompt))
        {
            throw new InputException("the prompt is empty", field: "prompt", hint: "write the instruction to send for each row, with {{column}} placeholders");
        }

        if (form.MaxTokens is < 1)
        {
            throw new InputException("must be at least 1", field: "max tokens");
        }

        if (form.Temperature is < 0 or > 2)
        {
            throw new InputException("must be between 0 and 2", field: "temperature");
        }

        if (form.StartRow is < 1 || form.EndRow is < 1)
        {
            throw new InputException("row numbers start at 1 (the first row after the header)", field: form.StartRow is < 1 ? "start row" : "end row");
        }

        if (form.StartRow is { } s && form.EndRow is { } e && e < s)
        {
            throw new InputException($"the end row {e} is before the start row {s}", field: "end row");
        }

        var provider = ProviderFor(model, form.Provider);
        var mode = ParseMode(form.Mode);
        if (mode == JobMode.Sync && !state.Runner.CanSync)
        {
            throw new InputException("this dashboard cannot send through the synchronous API", field: "mode", hint: "choose batch");
        }

        // As 'run': a provider without a batch API here needs sync mode; the Responses API is OpenAI's only.
        if (mode == JobMode.Batch)
        {
            ProviderChoice.RequireBatchApi(provider, model, "mode");
        }

        var api = ProviderChoice.ParseApi(form.Api, provider, "api");

        if (form.RequestsPerMinute is < 1 || form.TokensPerMinute is < 1 || form.Concurrency is < 1)
        {
            throw new InputException("must be at least 1", field: form.RequestsPerMinute is < 1 ? "requests per minute" : form.TokensPerMinute is < 1 ? "tokens per minute" : "concurrency");
        }

        string sha;
        IReadOnlyList<string> columns;
        try
        {
            using (var probe = TableReader.Open(input.Path, TableReadOptions.Default))
            {
                columns = probe.Columns;
            }

            sha = InputFingerprint.ComputeSha256(input.Path);
        }
        catch (InputException ex)
        {
            throw Renamed(ex, input);
        }

        var spec = new JobSpec
        {
            InputPath = input.Path,
            InputSha256 = sha,
            Provider = provider,
            Model = model,
            Prompt = form.Prompt,
            System = string.IsNullOrWhiteSpace(form.System) ? null : form.System,
            MaxTokens = form.MaxTokens,
            Temperature = form.Temperature,
            IdColumn = string.IsNullOrWhiteSpace(form.IdColumn) ? null : form.IdColumn.Trim(),
            StartRow = form.StartRow,
            EndRow = form.EndRow,
            Endpoint = state.Options.EndpointFor(provider),
            Mode = mode,
            Api = api,
        };
        spec = WithAnswerOptions(spec, form, columns, input);
        var name = string.IsNullOrWhiteSpace(form.Name) ? Path.GetFileNameWithoutExtension(input.DisplayName) : form.Name.Trim();
        return (spec, columns, input, name.Length > 200 ? name[..200] : name);
    }

    /// <summary>
    /// The image columns and the JSON schema of the form, checked as <c>--image-column</c> and <c>--json-schema</c> check
    /// them. A local image path is looked up in the allowed folder only (for a file picked from it), never through
    /// <c>..</c> or an absolute path: the dashboard sends no file from elsewhere on the machine.
    /// </summary>
    private JobSpec WithAnswerOptions(JobSpec spec, CreateJobDto form, IReadOnlyList<string> columns, InputRef input)
    {
        var imageColumns = string.IsNullOrWhiteSpace(form.ImageColumns) ? [] : new[] { form.ImageColumns.Trim() };
        if (form.SkipMissingImages && imageColumns.Length == 0)
        {
            throw new InputException("\"skip rows whose image cannot be sent\" needs an image column", field: "image column", hint: "name the image column, e.g. Image Path");
        }

        if (imageColumns.Length > 0)
        {
            IReadOnlyList<string> names;
            try
            {
                names = ImageInputs.Create(imageColumns, [], spec.Provider, columns, input.DisplayName).Columns;
            }
            catch (InputException ex)
            {
                throw Field(ex, "image column");
            }

            CheckImageCells(input, columns, names);
            // A file picked from the allowed folder: its own folder, then the allowed folder's root (an upload: neither).
            var folders = new List<string>();
            if (state.Options.AllowedInputFolder is { } allowed && input.Reference.StartsWith("folder:", StringComparison.Ordinal))
            {
                folders.Add(Path.GetDirectoryName(Path.GetFullPath(input.Path))!);
                folders.Add(Path.GetFullPath(allowed));
            }

            spec = spec with { ImageColumns = names, ImageFolders = folders.Distinct(StringComparer.Ordinal).ToList(), SkipMissingImages = form.SkipMissingImages };
        }

        if (!string.IsNullOrWhiteSpace(form.JsonSchema))
        {
            try
            {
                var schema = AnswerSchema.Parse(form.JsonSchema, "JSON schema", spec.Provider);
                spec = spec with { JsonSchema = schema.Format.SchemaJson, JsonSchemaName = schema.Format.Name };
            }
            catch (InputException ex)
            {
                throw Field(ex, "JSON schema");
            }
        }

        return spec;
    }

    /// <summary>Refuses an image cell naming a local file by an absolute path or through <c>..</c> (row 1-based, as in the input).</summary>
    private static void CheckImageCells(InputRef input, IReadOnlyList<string> columns, IReadOnlyList<string> imageColumns)
    {
        var indexes = imageColumns.Select(c => columns.ToList().IndexOf(c)).Where(i => i >= 0).ToArray();
        using var reader = TableReader.Open(input.Path, TableReadOptions.Default);
        foreach (var row in reader.ReadRows(CancellationToken.None))
        {
            foreach (var i in indexes)
            {
                var cell = i < row.Values.Length ? row.Values[i]?.Trim() : null;
                if (string.IsNullOrEmpty(cell) || cell.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || cell.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
                    || cell.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (Path.IsPathRooted(cell) || cell.Replace('\\', '/').Split('/').Contains(".."))
                {
                    throw new InputException($"the image '{cell}' is outside the allowed folder: the dashboard only sends image files named relative to it", file: input.DisplayName, row: row.Row, field: columns[i],
                        hint: "use an http(s) or data: URL, or a path relative to the allowed folder (--allowed-folder)");
                }
            }
        }
    }

    /// <summary>The same error, naming the form's field instead of the CLI option.</summary>
    private static InputException Field(InputException ex, string field) =>
        new(ex.Message, ex, file: ex.File, row: ex.Row, field: field, hint: ex.Hint?.Replace("--image-column ", string.Empty, StringComparison.Ordinal), exitCode: ex.ExitCode);

    /// <summary>The first rendered requests and the estimate of a new job.</summary>
    public PreviewDto Preview(CreateJobDto form, CancellationToken ct)
    {
        IReadOnlyList<string> columns = [];
        var provider = string.Empty;
        try
        {
            var input = ResolveInput(form.Input);
            using (var probe = TableReader.Open(input.Path, TableReadOptions.Default))
            {
                columns = probe.Columns;
            }

            var model = string.IsNullOrWhiteSpace(form.Model) ? "gpt-4o-mini" : form.Model.Trim();
            provider = ProviderFor(model, form.Provider);
            if (string.IsNullOrWhiteSpace(form.Prompt))
            {
                return new PreviewDto(columns, provider, [], null, null, "Write a prompt to see the requests it makes; click a column name to insert its placeholder.");
            }

            var spec = new JobSpec
            {
                InputPath = input.DisplayName,
                InputSha256 = string.Empty,
                Provider = provider,
                Model = model,
                Prompt = form.Prompt,
                System = string.IsNullOrWhiteSpace(form.System) ? null : form.System,
                MaxTokens = form.MaxTokens is > 0 ? form.MaxTokens : null,
                Endpoint = string.Empty,
            };
            var factory = new RequestFactory(spec, columns, input.DisplayName);
            var requests = new List<PreviewRequestDto>();
            long items = 0, chars = 0;
            using var reader = TableReader.Open(input.Path, TableReadOptions.Default);
            try
            {
                foreach (var row in reader.ReadRows(ct))
                {
                    if (form.StartRow is { } s && row.Index < s)
                    {
                        continue;
                    }

                    if (form.EndRow is { } e && row.Index > e)
                    {
                        break;
                    }

                    var r = factory.Create(row.Values);
                    items++;
                    chars += r.UserText.Length + (r.System?.Length ?? 0);
                    if (requests.Count < 3)
                    {
                        requests.Add(new PreviewRequestDto(row.Row, "row-" + row.Index.ToString(CultureInfo.InvariantCulture), r.System, r.UserText));
                    }
                }
            }
            catch (InputException ex)
            {
                throw Renamed(ex, input);
            }

            var estimate = CostEstimator.Of(spec, items, chars, state.Options.Costs.Prices);
            string? warning = null;
            if (estimate.BatchCostUsd is null)
            {
                warning = $"No list price is known for model {model}: the cost will show as unknown.";
            }
            else if (form.BudgetUsd is { } budget && (IsSync(form) ? estimate.SyncCostUsd : estimate.BatchCostUsd) is { } cost && cost > budget)
            {
                warning = $"The estimate ({Pages.Html.Money(cost)}) is over the budget ({Pages.Html.Money(budget)}): the batches that would pass it are held back (their items stay pending until the budget is raised).";
            }

            return new PreviewDto(columns, provider, requests, EstimateDto.Of(estimate), null, warning);
        }
        catch (InputException ex)
        {
            return new PreviewDto(columns, provider, [], null, ex.ToUserLine(), null);
        }
    }

    /// <summary>Creates the job (reads its rows now, so a bad input is reported at once) and submits it in the background.</summary>
    public async Task<JobRecord> CreateAsync(CreateJobDto form, CancellationToken ct, CancellationToken stopping)
    {
        var (spec, columns, input, name) = Prepare(form);

        // As 'run --budget': refused on a model without a price before anything is stored, then kept on the job.
        EnsureBudget(spec.Model, form.BudgetUsd);

        IEnumerable<SourceRow> Rows(CancellationToken token)
        {
            using var reader = TableReader.Open(input.Path, TableReadOptions.Default);
            foreach (var r in reader.ReadRows(token))
            {
                yield return new SourceRow(r.Index, r.Row, r.Values);
            }
        }

        CreateJobResult result;
        using (var sizer = await state.Options.ClientFactory(spec, ct))
        {
            try
            {
                result = await CreateJob.RunAsync(state.Options.Store, new CreateJobRequest { Spec = spec, Name = name, Columns = columns, Rows = Rows, StartNew = form.New }, sizer, state.Time, ct);
            }
            catch (InputException ex)
            {
                throw Renamed(ex, input);
            }
        }

        var job = result.Job;
        state.Runner.Note(job.Id, result.Created ? $"Job created from {input.DisplayName}: {result.Items:N0} items, {spec.Provider} / {spec.Model}." : $"The same job already existed ({job.Status}); continuing it.");
        if (form.BudgetUsd is not null)
        {
            job = await SetBudgetAsync(job, form.BudgetUsd, ct);
        }

        state.Runner.SetNoCache(job.Id, form.NoCache);
        if (form.NoCache)
        {
            state.Runner.Note(job.Id, "No cache: every request is sent, even one answered before (new answers are still stored in the cache).");
        }
        if (job.Status is not JobStatus.Cancelled && spec.Mode == JobMode.Sync)
        {
            state.Runner.SendSyncInBackground(job, new SyncSettings(form.RequestsPerMinute, form.TokensPerMinute, form.Concurrency), stopping);
        }
        else if (job.Status is not JobStatus.Cancelled)
        {
            state.Runner.InBackground(job, "Submission", async (engine, token) =>
            {
                var current = await state.Options.Store.GetJobAsync(job.Id, token) ?? job;
                await JobSteps.SubmitAsync(engine, current, token);
            }, stopping);
        }

        await state.Index.RefreshAsync(ct);
        if (state.Index.Find(job.Id) is { } created)
        {
            state.Index.WantEstimates([created]);
        }

        return job;
    }

    /// <summary>
    /// Sets (or with null removes) the job's budget as <c>resume --budget</c> does, then lets what it held back go: a
    /// submission pass for a batch job, a synchronous run for a sync one.
    /// </summary>
    public async Task<ActionDto> BudgetAsync(string id, decimal? budgetUsd, CancellationToken ct, CancellationToken stopping = default)
    {
        var job = await RequireAsync(id, ct);
        EnsureBudget(job.Spec.Model, budgetUsd);
        var before = job.BudgetUsd;
        job = await SetBudgetAsync(job, budgetUsd, ct);
        if (job.BudgetUsd == before)
        {
            return new ActionDto(job.Id, "budget", "Unchanged", null, budgetUsd is { } same ? $"The budget is already {Pages.Html.Money(same)}." : "The job has no budget.");
        }

        state.Runner.ClearBudgetStop(job.Id);
        var counts = await state.Options.Store.GetCountsAsync(job.Id, ct);
        if (job.Status is JobStatus.Pending or JobStatus.Running && counts.Pending + counts.InBatch > 0)
        {
            if (job.Spec.Mode == JobMode.Sync && state.Runner.CanSync)
            {
                state.Runner.SendSyncInBackground(job, new SyncSettings(), stopping);
            }
            else if (job.Spec.Mode == JobMode.Batch)
            {
                state.Runner.InBackground(job, "Submission", async (engine, token) =>
                {
                    var current = await state.Options.Store.GetJobAsync(job.Id, token) ?? job;
                    await JobSteps.SubmitAsync(engine, current, token);
                }, stopping);
            }
        }

        await state.Index.RefreshAsync(ct);
        var text = job.BudgetUsd is { } usd ? $"Budget set to {Pages.Html.Money(usd)}" : "Budget removed";
        var waiting = counts.Pending + counts.InBatch;
        return new ActionDto(job.Id, "budget", job.BudgetUsd is null ? "Removed" : "Set", waiting,
            waiting > 0 ? $"{text}: the {waiting:N0} unfinished item(s) go on as far as it allows." : text + ".");
    }

    /// <summary>Refuses a negative budget, and a budget (the job's or the daily one) on a model without a price.</summary>
    private void EnsureBudget(string model, decimal? budgetUsd)
    {
        if (budgetUsd is < 0)
        {
            throw new InputException($"'{budgetUsd.Value.ToString(CultureInfo.InvariantCulture)}' is not an amount in USD", field: "budget", hint: "give dollars, e.g. 5 or 0.50 (empty: no budget)");
        }

        JobBudgets.EnsurePriced(state.Options.Costs.Prices, state.Options.Costs.DailyBudgetUsd, model, budgetUsd, "budget");
    }

    private async Task<JobRecord> SetBudgetAsync(JobRecord job, decimal? budgetUsd, CancellationToken ct)
    {
        var (updated, reason) = await JobBudgets.SetAsync(state.Options.Store, job, budgetUsd, "dashboard", ct);
        if (reason is not null)
        {
            state.Runner.Note(job.Id, reason);
        }

        return updated;
    }

    private static bool IsSync(CreateJobDto form) => string.Equals(form.Mode?.Trim(), "sync", StringComparison.OrdinalIgnoreCase);

    /// <summary>The mode of the form: batch (the default) or sync.</summary>
    public static JobMode ParseMode(string? mode) => ProviderChoice.ParseMode(mode, "mode");

    /// <summary>The provider of the form: as <c>run --provider</c> (from the model name when empty or <c>auto</c>).</summary>
    public static string ProviderFor(string model, string? flag) =>
        ProviderChoice.ProviderFor(model, string.IsNullOrWhiteSpace(flag) || flag.Equals("auto", StringComparison.OrdinalIgnoreCase) ? null : flag, "provider", "model");

    /// <summary>Names the file as the user knows it (not the generated upload name).</summary>
    private static InputException Renamed(InputException ex, InputRef input) =>
        ex.File is null || ex.File == input.DisplayName ? ex
            : new InputException(ex.Message, ex, file: input.DisplayName, row: ex.Row, field: ex.Field, hint: ex.Hint, exitCode: ex.ExitCode);

    // ------------------------------------------------------------------ items

    /// <summary>
    /// A page of a job's items in seq order, optionally of one status, after a seq: one primary-key range read of at most
    /// <paramref name="limit"/> + 1 items (the extra one tells whether a next page exists), wherever the page is in the job.
    /// </summary>
    public async Task<(IReadOnlyList<ItemRecord> Items, long? NextAfter)> ItemsAsync(string jobId, ItemStatus? status, long after, int limit, CancellationToken ct)
    {
        var read = await state.Options.Store.ReadItemsPageAsync(jobId, status, Math.Max(0, after), limit + 1, ct);
        if (read.Count <= limit)
        {
            return (read, null);
        }

        var page = read.Take(limit).ToList();
        return (page, page[^1].Seq);
    }

    public static ItemStatus? ParseItemStatus(string? s) => s?.ToLowerInvariant() switch
    {
        "pending" => ItemStatus.Pending,
        "in_batch" or "inbatch" => ItemStatus.InBatch,
        "succeeded" => ItemStatus.Succeeded,
        "failed" => ItemStatus.Failed,
        "expired" => ItemStatus.Expired,
        "cancelled" => ItemStatus.Cancelled,
        _ => null,
    };

    private static string Html(JobStatus s) => Pages.Html.StatusLabel(s).ToLowerInvariant();

    private static string Plural(long n, string word) =>
        n.ToString("N0", CultureInfo.InvariantCulture) + " " + (n == 1 ? word : word.EndsWith("ch", StringComparison.Ordinal) ? word + "es" : word + "s");
}
