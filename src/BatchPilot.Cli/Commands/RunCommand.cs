using System.CommandLine;
using System.Globalization;
using BatchPilot.Errors;
using BatchPilot.Exports;
using BatchPilot.Inputs;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Planning;
using BatchPilot.Running;

namespace BatchPilot.Cli.Commands;

/// <summary><c>batchpilot run</c>: create (or continue) a job, submit, wait, collect, write the merged output.</summary>
internal static class RunCommand
{
    public static readonly Argument<string> Input = new("INPUT") { Description = "CSV or JSONL file with one request per row ('-' for standard input)." };
    public static readonly Option<string> Model = new("--model", "-m") { Description = "Model id, e.g. gpt-4o-mini, claude-haiku-4-5 or openai/gpt-4o-mini. claude* goes to Anthropic, vendor/model to OpenRouter, anything else to OpenAI (an Azure deployment name with --provider azure). With 'run', several models (--model a,b or --model a --model b) are compared over the same rows ('estimate' estimates each).", Required = true, Arity = ArgumentArity.OneOrMore, CustomParser = r => CompareFlow.FirstValue(r, "--model", commaList: true) };
    public static readonly Option<string?> Prompt = new("--prompt", "-p") { Description = "Prompt template: {{column}} placeholders are filled from each row; Liquid tags, filters (truncate, json…) and row[\"Column Name\"] work too. With 'run', repeat it to compare prompts ('estimate' estimates each).", Arity = ArgumentArity.OneOrMore, CustomParser = r => CompareFlow.FirstValue(r, "--prompt", commaList: false) };
    public static readonly Option<string?> PromptFile = new("--prompt-file") { Description = "File holding the prompt template. With 'run', repeat it to compare prompts (each variant is labelled by the file name; 'estimate' estimates each).", Arity = ArgumentArity.OneOrMore, CustomParser = r => CompareFlow.FirstValue(r, "--prompt-file", commaList: false) };
    public static readonly Option<string?> System = new("--system") { Description = "System prompt (a template too)." };
    public static readonly Option<string?> Examples = new("--examples") { Description = "JSONL file of few-shot examples, one {\"input\": \"...\", \"output\": \"...\"} per line, sent as user/assistant turns before each row's prompt." };
    public static readonly Option<string[]> Where = new("--where") { Description = "Send only rows where COLUMN=VALUE (exact match; split at the first '='; repeatable, all must match).", AllowMultipleArgumentsPerToken = false };
    public static readonly Option<long?> Limit = new("--limit") { Description = "Send at most N rows (after --start-row/--end-row and --where)." };
    public static readonly Option<int?> MaxTokens = new("--max-tokens") { Description = "Maximum output tokens per request (sent as max_completion_tokens to models that need it)." };
    public static readonly Option<double?> Temperature = new("--temperature") { Description = "Sampling temperature." };
    public static readonly Option<string?> Out = new("--out", "-o") { Description = "Merged output file: .csv, .jsonl, .md, .docx or .xlsx (by extension). Default: <input name>.results.csv in the current folder; never the input file itself. A comparison: .csv, .jsonl, .md or .docx, the variants side by side." };
    public static readonly Option<string> OutputColumn = new("--output-column") { Description = "Name of the response column in the output (a comparison: 'NAME [label]' per variant).", DefaultValueFactory = _ => "response" };
    public static readonly Option<string?> IdColumn = new("--id-column") { Description = "Column with unique ids, used as each request's custom_id (letters, digits, - and _, up to 64). Default: row-N." };
    public static readonly Option<long?> StartRow = new("--start-row") { Description = "First data row to send (1 = the first row after the header)." };
    public static readonly Option<long?> EndRow = new("--end-row") { Description = "Last data row to send (inclusive)." };
    public static readonly Option<int?> BatchSize = new("--batch-size") { Description = "Most requests per provider batch (provider limits always apply: OpenAI 50,000 / 200 MB, Anthropic 100,000 / 256 MB)." };
    public static readonly Option<string?> Name = new("--name") { Description = "Job name shown in the history (a comparison: the group's name; its jobs are 'NAME [label]'). Default: the input file name." };
    public static readonly Option<double?> CheckInterval = new("--check-interval") { Description = "Longest wait between status checks, in seconds. Default: 30 (1 on the emulator)." };
    public static readonly Option<bool> Detach = new("--detach") { Description = "Return right after submission and print the job id; check later with status/watch." };
    public static readonly Option<bool> New = new("--new") { Description = "Start a fresh job (or comparison) even if the same command ran before (default: continue it)." };
    public static readonly Option<string?> Provider = new("--provider") { Description = "openai, anthropic, openrouter or azure (default: provider in config/user.yaml, else from the model name)." };
    public static readonly Option<bool> Emulator = new("--emulator") { Description = "Use the built-in provider emulator (no key, no network)." };
    public static readonly Option<double?> EmulatorBatchDuration = new("--emulator-batch-duration") { Description = "With --emulator: seconds each batch takes (default 5)." };
    public static readonly Option<string?> ApiKey = new("--api-key") { Description = "API key (default: environment, .env, then config/user.yaml)." };
    public static readonly Option<string?> BaseUrl = new("--base-url") { Description = "Provider base URL (default: OPENAI_BASE_URL / ANTHROPIC_BASE_URL / OPENROUTER_BASE_URL / AZURE_OPENAI_ENDPOINT, config, then the public API)." };
    public static readonly Option<string?> Api = new("--api") { Description = "OpenAI API: chat (chat completions) or responses (the Responses API, in sync and batch mode). Default: chat." };
    public static readonly Option<string?> ApiVersion = new("--api-version") { Description = "Azure OpenAI api-version (default: AZURE_OPENAI_API_VERSION, azure.api_version in config/user.yaml, else 2024-10-21)." };
    public static readonly Option<string?> Delimiter = new("--delimiter") { Description = "CSV delimiter (default: detected)." };
    public static readonly Option<string?> Encoding = new("--encoding") { Description = "Input encoding, e.g. latin1 (default: UTF-8)." };
    public static readonly Option<string?> InputFormat = new("--format") { Description = "Input format, csv or jsonl (default: from the extension; for '-', from the content)." };
    public static readonly Option<string> Mode = new("--mode") { Description = "batch (Batch API: half price, results within 24 h) or sync (synchronous API: immediate, rate-limited).", DefaultValueFactory = _ => "batch" };
    public static readonly Option<long?> Rpm = new("--rpm") { Description = "sync: requests per minute allowed (default: rate_limits.MODEL.rpm in config/user.yaml, else learned from the provider's headers)." };
    public static readonly Option<long?> Tpm = new("--tpm") { Description = "sync: tokens per minute allowed, input and output together as OpenAI counts them (default: rate_limits.MODEL.tpm, else learned)." };
    public static readonly Option<long?> Itpm = new("--itpm") { Description = "sync: input tokens per minute allowed, as Anthropic counts them apart (default: rate_limits.MODEL.itpm, else learned)." };
    public static readonly Option<long?> Otpm = new("--otpm") { Description = "sync: output tokens per minute allowed (counted from --max-tokens), as Anthropic counts them apart (default: rate_limits.MODEL.otpm, else learned)." };
    public static readonly Option<int> Concurrency = new("--concurrency") { Description = "sync: requests in flight at once.", DefaultValueFactory = _ => 16 };
    public static readonly Option<bool> EstimateCost = new("--estimate-cost") { Description = "Only estimate tokens, cost (sync vs batch) and batches, as 'batchpilot estimate' does; send nothing." };
    public static readonly Option<long?> MaxBatchTokens = new("--max-batch-tokens") { Description = "Most estimated input tokens per batch: your provider's enqueued-token limit for the model (also enqueued_token_limits.MODEL in config/user.yaml)." };
    public static readonly Option<double> Timeout = new("--timeout") { Description = "Stop waiting after this many hours (the job goes on at the provider).", DefaultValueFactory = _ => 26 };
    public static readonly Option<string?> Budget = new("--budget") { Description = "Most this job may spend, in USD; kept on the job (a rerun or resume keeps it, giving it again changes it, 'off' removes it). Each batch's estimate is reserved before it is sent; submission stops before the budget would be passed (exit code 8)." };
    public static readonly Option<bool> NoCache = new("--no-cache") { Description = "Send every request, even one answered before: the response cache is not read (new answers are still stored in it)." };

    public static Command Create(Func<ParseResult, Func<CliContext, CancellationToken, Task<int>>, CancellationToken, Task<int>> host)
    {
        var cmd = new Command("run", "Run a prompt over every row of a table through a provider Batch API, wait, and write the merged results. Rerunning the same command continues the same job. Several models or prompts run as a comparison: one job per variant, results side by side.")
        {
            Input, Model, Prompt, PromptFile, System, Examples, Where, Limit, MaxTokens, Temperature, Out, OutputColumn, IdColumn, StartRow, EndRow, BatchSize, Name,
            CheckInterval, Detach, New, Provider, Emulator, EmulatorBatchDuration, ApiKey, BaseUrl, Delimiter, Encoding, InputFormat, MaxBatchTokens, Mode, Rpm, Tpm, Concurrency, EstimateCost, Timeout,
            InputOptions.ImageColumn, InputOptions.SkipMissingImages, InputOptions.JsonSchema,
            Api, ApiVersion, Itpm, Otpm,
            Budget, NoCache,
        };
        cmd.SetAction((pr, ct) => host(pr, (ctx, token) => ExecuteAsync(pr, ctx, token), ct));
        return cmd;
    }

    private static async Task<int> ExecuteAsync(ParseResult pr, CliContext ctx, CancellationToken ct)
    {
        // Several models or prompts: a comparison (CompareFlow), built on the single-job steps below.
        var comparison = CompareFlow.Read(pr, ctx);
        if (pr.GetValue(EstimateCost))
        {
            return await EstimateCommand.ExecuteAsync(pr, ctx, ct).ConfigureAwait(false);
        }

        var started = ctx.Time.GetUtcNow();
        var mode = ParseMode(pr.GetValue(Mode));
        var inputArg = ctx.Resolve(pr.GetValue(Input)!);
        var model = pr.GetValue(Model)!.Trim();
        var prompt = pr.GetValue(Prompt);
        var promptFile = pr.GetValue(PromptFile);
        if (prompt is null == (promptFile is null))
        {
            throw new InputException("give exactly one of --prompt and --prompt-file", field: "--prompt", hint: "e.g. --prompt \"Classify: {{review_text}}\"");
        }

        if (promptFile is not null)
        {
            prompt = ReadTextFile(ctx.Resolve(promptFile), "--prompt-file");
        }

        if (string.IsNullOrWhiteSpace(prompt))
        {
            throw new InputException("the prompt is empty", field: promptFile is null ? "--prompt" : "--prompt-file", hint: "write the instruction to send for each row");
        }

        var selection = ReadSelection(pr, ctx);

        var batchSize = pr.GetValue(BatchSize);
        if (batchSize is < 1)
        {
            throw new InputException("must be at least 1", field: "--batch-size");
        }

        if (pr.GetValue(StartRow) is < 1 || pr.GetValue(EndRow) is < 1)
        {
            throw new InputException("row numbers start at 1 (the first row after the header)", field: pr.GetValue(StartRow) is < 1 ? "--start-row" : "--end-row");
        }

        if (pr.GetValue(StartRow) is { } s && pr.GetValue(EndRow) is { } e && e < s)
        {
            throw new InputException($"--end-row {e} is before --start-row {s}", field: "--end-row");
        }

        var provider = JobFlow.ProviderFor(ctx, model, pr.GetValue(Provider));
        if (mode == JobMode.Batch)
        {
            JobFlow.RequireBatchApi(provider, model);
        }

        var api = ParseApi(pr.GetValue(Api), provider);
        ctx.ApiVersionFlag = pr.GetValue(ApiVersion);

        // Read (and check) the rate limits before anything is recorded.
        var limiter = mode == JobMode.Sync ? ctx.Limiter(model, provider, RateFlags(pr)) : null;
        var concurrency = mode == JobMode.Sync ? SyncConcurrency(pr) : 0;

        var budget = JobFlow.ParseBudget(pr.GetValue(Budget));
        ctx.NoCacheFlag = pr.GetValue(NoCache);
        JobFlow.EnsureBudgetPriced(ctx, model, budget);
        if (pr.GetValue(MaxBatchTokens) is < 1)
        {
            throw new InputException("must be at least 1", field: "--max-batch-tokens");
        }

        ctx.MaxBatchTokensFlag = pr.GetValue(MaxBatchTokens);
        var useEmulator = pr.GetValue(Emulator);
        ctx.EmulatorBatchSeconds = pr.GetValue(EmulatorBatchDuration);
        var endpoint = JobFlow.EndpointFor(ctx, provider, model, useEmulator, pr.GetValue(ApiKey), pr.GetValue(BaseUrl));
        comparison = comparison?.WithEndpoints(ctx, useEmulator, pr.GetValue(ApiKey), pr.GetValue(BaseUrl));

        var stdinSpool = inputArg == "-" ? await SpoolStdinAsync(ct).ConfigureAwait(false) : null;
        try
        {
            var inputPath = stdinSpool ?? inputArg;
            var readOptions = new TableReadOptions { Delimiter = pr.GetValue(Delimiter), Encoding = pr.GetValue(Encoding), Format = pr.GetValue(InputFormat) };
            string sha;
            IReadOnlyList<string> columns;
            using (var probe = OpenTable(inputPath, stdinSpool is not null, readOptions))
            {
                columns = probe.Columns;
                sha = InputFingerprint.ComputeSha256(inputPath);
            }

            ValidateTemplates(prompt!, promptFile is null ? "--prompt" : "--prompt-file", pr.GetValue(System), columns, inputArg == "-" ? "<stdin>" : inputArg);
            var outPath = ctx.Resolve(pr.GetValue(Out) ?? StemOf(inputArg) + ".results.csv");
            AtomicFile.EnsureWritable(outPath);
            _ = JobExporter.FormatFromExtension(outPath);
            if (stdinSpool is null)
            {
                RefuseOverwritingInput(outPath, inputArg, ".results.csv");
            }

            var spec = new JobSpec
            {
                InputPath = inputArg == "-" ? "<stdin>" : inputArg,
                InputSha256 = sha,
                Provider = provider,
                Model = model,
                Prompt = prompt!,
                System = pr.GetValue(System),
                MaxTokens = pr.GetValue(MaxTokens),
                Temperature = pr.GetValue(Temperature),
                IdColumn = pr.GetValue(IdColumn),
                StartRow = pr.GetValue(StartRow),
                EndRow = pr.GetValue(EndRow),
                Examples = selection.Examples,
                Where = selection.Where,
                Limit = selection.Limit,
                Delimiter = pr.GetValue(Delimiter),
                Encoding = pr.GetValue(Encoding),
                Endpoint = endpoint,
                Mode = mode,
                Api = api,
            };
            spec = InputOptions.Apply(pr, ctx, spec, columns, inputArg);

            if (comparison is not null)
            {
                return await CompareFlow.RunAsync(ctx, pr, comparison, spec, columns, token => ReadRows(inputPath, stdinSpool is not null, readOptions, token), outPath, started, ct).ConfigureAwait(false);
            }

            using var client = await ctx.ClientAsync(spec, pr.GetValue(ApiKey), batchSize, ct).ConfigureAwait(false);
            var created = await CreateJob.RunAsync(
                ctx.Store,
                new CreateJobRequest
                {
                    Spec = spec,
                    Name = pr.GetValue(Name) ?? StemOf(inputArg),
                    Columns = columns,
                    Rows = token => ReadRows(inputPath, stdinSpool is not null, readOptions, token),
                    StartNew = pr.GetValue(New),
                },
                client,
                ctx.Time,
                ct).ConfigureAwait(false);
            var job = await JobFlow.ApplyBudgetAsync(ctx, created.Job, budget, ct).ConfigureAwait(false);
            ctx.Ui.Info(created.Created
                ? $"Job {job.Id} created: {created.Items} items, {provider} / {model}{(useEmulator ? " on the built-in emulator" : string.Empty)}."
                : $"Continuing job {job.Id} ({job.Status}, created {Ui.Format.Time(job.CreatedAt)}); use --new to start over.");

            if (mode == JobMode.Sync)
            {
                if (pr.GetValue(Detach))
                {
                    throw new InputException("sync mode sends and waits in this process; --detach is for batch mode", field: "--detach", hint: "drop --detach, or use --mode batch");
                }

                // Batches still in flight from an earlier batch-mode attempt are finished first.
                var batchEngine = ctx.Engine(client, job.Spec);
                job = await JobFlow.WaitAsync(ctx, batchEngine, job, TimeSpan.FromSeconds(pr.GetValue(CheckInterval) ?? (useEmulator ? 1 : 30)), TimeSpan.FromHours(pr.GetValue(Timeout)), ct).ConfigureAwait(false);
                var stop = batchEngine.BudgetStop;
                if (job.Status != JobStatus.Cancelled && stop is null)
                {
                    (job, stop) = await JobFlow.RunSyncAsync(ctx, job, pr.GetValue(ApiKey), limiter!, concurrency, batchSize, ct).ConfigureAwait(false);
                }

                return await JobFlow.FinishAsync(ctx, job, outPath, pr.GetValue(OutputColumn)!, started, stop, ct).ConfigureAwait(false);
            }

            var engine = ctx.Engine(client, job.Spec);
            if (job.Status != JobStatus.Cancelled)
            {
                await JobSteps.SubmitAsync(engine, job, ct).ConfigureAwait(false);
            }

            if (pr.GetValue(Detach))
            {
                var detached = await JobFlow.DetachedAsync(ctx, job, "rerun the same command to collect and write the output", ct).ConfigureAwait(false);
                return engine.BudgetStop is { } held ? JobFlow.BudgetExit(ctx, held) : detached;
            }

            var interval = TimeSpan.FromSeconds(pr.GetValue(CheckInterval) ?? (useEmulator ? 1 : 30));
            job = await JobFlow.WaitAsync(ctx, engine, job, interval, TimeSpan.FromHours(pr.GetValue(Timeout)), ct).ConfigureAwait(false);
            return await JobFlow.FinishAsync(ctx, job, outPath, pr.GetValue(OutputColumn)!, started, engine.BudgetStop, ct).ConfigureAwait(false);
        }
        finally
        {
            if (stdinSpool is not null)
            {
                File.Delete(stdinSpool);
            }
        }
    }

    /// <summary>Refuses an --out that names the input file itself (letter case ignored where the file system ignores it).</summary>
    internal static void RefuseOverwritingInput(string outPath, string input, string defaultSuffix)
    {
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if (string.Equals(Path.GetFullPath(outPath), Path.GetFullPath(input), comparison))
        {
            throw new InputException("the output would overwrite the input file", file: outPath, field: "--out",
                hint: "choose another path (by default the output is " + StemOf(input) + defaultSuffix + "); a rerun reads the input again");
        }
    }

    /// <summary>Few-shot examples, --where and --limit as given.</summary>
    internal static (IReadOnlyList<FewShotExample> Examples, IReadOnlyList<RowFilter> Where, long? Limit) ReadSelection(ParseResult pr, CliContext ctx)
    {
        if (pr.GetValue(Limit) is < 1)
        {
            throw new InputException("must be at least 1", field: "--limit");
        }

        var where = new List<RowFilter>();
        foreach (var w in pr.GetValue(Where) ?? [])
        {
            var eq = w.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new InputException($"'{w}' is not COLUMN=VALUE", field: "--where", hint: "e.g. --where \"Image Path=img/a.png\" (split at the first '=')");
            }

            where.Add(new RowFilter(w[..eq], w[(eq + 1)..]));
        }

        IReadOnlyList<FewShotExample> examples = [];
        if (pr.GetValue(Examples) is { } examplesFile)
        {
            using var reader = new StringReader(ReadTextFile(ctx.Resolve(examplesFile), "--examples"));
            examples = FewShotFile.Read(reader, examplesFile);
        }

        return (examples, where, pr.GetValue(Limit));
    }

    /// <summary>Compiles the templates once so that errors name the option the template came from.</summary>
    internal static void ValidateTemplates(string prompt, string promptOption, string? system, IReadOnlyList<string> columns, string inputName)
    {
        _ = PromptTemplate.Compile(prompt, columns, promptOption, inputName);
        if (system is not null)
        {
            _ = PromptTemplate.Compile(system, columns, "--system", inputName);
        }
    }

    /// <summary>Opens the input; standard input was spooled to a file (read twice: hash, then rows) but keeps its name in messages.</summary>
    internal static TableReader OpenTable(string path, bool isStdin, TableReadOptions options)
    {
        if (!isStdin)
        {
            return TableReader.Open(path, options);
        }

        using var spooled = File.OpenRead(path);
        return TableReader.Open(spooled, "<stdin>", options);
    }

    internal static IEnumerable<SourceRow> ReadRows(string path, bool isStdin, TableReadOptions options, CancellationToken ct)
    {
        using var reader = OpenTable(path, isStdin, options);
        foreach (var r in reader.ReadRows(ct))
        {
            yield return new SourceRow(r.Index, r.Row, r.Values);
        }
    }

    /// <summary>Parses --mode.</summary>
    internal static JobMode ParseMode(string? value) => ProviderChoice.ParseMode(value);

    /// <summary>--api, checked against the provider: null for chat completions (the default), else <c>responses</c>.</summary>
    internal static string? ParseApi(string? value, string provider) => ProviderChoice.ParseApi(value, provider);

    /// <summary>The provider's base URL (flag, environment, config, default), checked; Azure has no default.</summary>
    internal static string RequireBaseUrl(CliContext ctx, string provider, string? flag)
    {
        var endpoint = ctx.Settings.BaseUrl(provider, flag).Value
            ?? throw new InputException(
                $"no Azure OpenAI endpoint: set {Config.Settings.BaseUrlVariable(provider)} or {Config.Settings.BaseUrlYamlPath(provider)} in config/user.yaml to your resource URL (https://NAME.openai.azure.com)",
                field: "--base-url", hint: "or give --base-url");
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var u) || (u.Scheme != "http" && u.Scheme != "https"))
        {
            throw new InputException($"'{endpoint}' is not an http(s) URL", field: "--base-url");
        }

        return endpoint;
    }

    /// <summary>--rpm, --tpm, --itpm and --otpm as given.</summary>
    internal static CliContext.RateLimitFlags RateFlags(ParseResult pr)
    {
        foreach (var option in (ReadOnlySpan<Option<long?>>)[Rpm, Tpm, Itpm, Otpm])
        {
            if (pr.GetValue(option) is < 1)
            {
                throw new InputException("must be at least 1", field: option.Name);
            }
        }

        return new CliContext.RateLimitFlags(pr.GetValue(Rpm), pr.GetValue(Tpm), pr.GetValue(Itpm), pr.GetValue(Otpm));
    }

    /// <summary>--concurrency, checked.</summary>
    internal static int SyncConcurrency(ParseResult pr)
    {
        var n = pr.GetValue(Concurrency);
        return n is >= 1 and <= 512 ? n : throw new InputException("must be between 1 and 512", field: "--concurrency");
    }

    internal static string ReadTextFile(string path, string option)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (FileNotFoundException ex)
        {
            throw new InputException("file not found", ex, file: path, field: option, hint: "check the path");
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new InputException("file not found", ex, file: path, field: option, hint: "check the path");
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new InputException("the file cannot be read (permission denied)", ex, file: path, field: option);
        }
        catch (IOException ex)
        {
            throw new InputException($"the file cannot be read ({ex.Message})", ex, file: path, field: option);
        }
    }

    internal static string StemOf(string input) =>
        input == "-" ? "stdin" : Path.GetFileNameWithoutExtension(input.TrimEnd('/', '\\')) is { Length: > 0 } s ? s : "job";

    private static async Task<string> SpoolStdinAsync(CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), "batchpilot-stdin-" + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture));
        await using var file = File.Create(path);
        await using var stdin = Console.OpenStandardInput();
        await stdin.CopyToAsync(file, ct).ConfigureAwait(false);
        return path;
    }
}
