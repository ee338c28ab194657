using System.CommandLine;
using System.Globalization;
using System.Text.Json.Serialization;
using BatchPilot.Errors;
using BatchPilot.Inputs;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Pricing;
using BatchPilot.Providers;
using BatchPilot.Running;
using Spectre.Console;

namespace BatchPilot.Cli.Commands;

/// <summary>
/// <c>batchpilot estimate INPUT</c>: what a <c>run</c> with the same arguments would send and cost, computed offline
/// (no key, nothing sent). <c>run --estimate-cost</c> calls <see cref="ExecuteAsync"/> with its own parse result.
/// </summary>
internal static class EstimateCommand
{
    /// <summary>Requests counted at once by <c>--exact</c>.</summary>
    public const int ExactConcurrency = 8;

    public static readonly Option<bool> Exact = new("--exact") { Description = "Anthropic models: count the input tokens exactly with Anthropic's count_tokens endpoint (one call per request; needs a key) instead of the offline estimate." };

    public static Command Create(JobCommands.Host host)
    {
        var cmd = new Command("estimate", "Count the items, input tokens (real tokenizer for OpenAI, an estimate for Anthropic, or Anthropic's count_tokens with --exact) and expected output tokens of a run, its cost in sync and batch mode, and its number of provider batches. Takes the same arguments as run; without --exact it needs no key and sends nothing.")
        {
            RunCommand.Input, RunCommand.Model, RunCommand.Prompt, RunCommand.PromptFile, RunCommand.System, RunCommand.Examples, RunCommand.Where, RunCommand.Limit,
            RunCommand.MaxTokens, RunCommand.Temperature,
            RunCommand.IdColumn, RunCommand.StartRow, RunCommand.EndRow, RunCommand.BatchSize, RunCommand.Provider, RunCommand.Delimiter, RunCommand.Encoding,
            RunCommand.InputFormat, RunCommand.MaxBatchTokens, InputOptions.ImageColumn, InputOptions.SkipMissingImages, InputOptions.JsonSchema,
            Exact, RunCommand.ApiKey, RunCommand.BaseUrl,
        };
        cmd.SetAction((pr, ct) => host(pr, (ctx, token) => ExecuteAsync(pr, ctx, token), ct));
        return cmd;
    }

    /// <summary>Computes and prints the estimate of the run described by <paramref name="pr"/> (a parse of run or estimate).</summary>
    public static async Task<int> ExecuteAsync(ParseResult pr, CliContext ctx, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(pr);
        ArgumentNullException.ThrowIfNull(ctx);
        if (CompareFlow.Read(pr, ctx) is { } comparison)
        {
            // Several models or prompts: one estimate per variant (each one the job that run would create), and the total.
            var estimates = new List<(Variant Variant, JobEstimate Estimate)>();
            foreach (var variant in comparison.Variants)
            {
                estimates.Add((variant, await ComputeAsync(pr, ctx, ct, variant).ConfigureAwait(false)));
            }

            PrintComparison(ctx, estimates);
            return ExitCodes.Success;
        }

        var estimate = await ComputeAsync(pr, ctx, ct).ConfigureAwait(false);
        Print(ctx, estimate);
        return ExitCodes.Success;
    }

    /// <summary>
    /// Computes the estimate of the run described by <paramref name="pr"/> (or of one <paramref name="variant"/> of the
    /// comparison it describes: its model and prompt); warns when the model has no price.
    /// </summary>
    public static async Task<JobEstimate> ComputeAsync(ParseResult pr, CliContext ctx, CancellationToken ct, Variant? variant = null)
    {
        ArgumentNullException.ThrowIfNull(pr);
        ArgumentNullException.ThrowIfNull(ctx);
        var inputArg = ctx.Resolve(pr.GetValue(RunCommand.Input)!);
        var model = variant?.Model ?? pr.GetValue(RunCommand.Model)!.Trim();
        var prompt = variant?.Prompt ?? pr.GetValue(RunCommand.Prompt);
        var promptFile = variant is null ? pr.GetValue(RunCommand.PromptFile) : null;
        if (variant is null && prompt is null == (promptFile is null))
        {
            throw new InputException("give exactly one of --prompt and --prompt-file", field: "--prompt", hint: "e.g. --prompt \"Classify: {{review_text}}\"");
        }

        if (promptFile is not null)
        {
            prompt = RunCommand.ReadTextFile(ctx.Resolve(promptFile), "--prompt-file");
        }

        if (string.IsNullOrWhiteSpace(prompt))
        {
            throw new InputException("the prompt is empty", field: promptFile is null ? "--prompt" : "--prompt-file", hint: "write the instruction to send for each row");
        }

        var batchSize = pr.GetValue(RunCommand.BatchSize);
        if (batchSize is < 1)
        {
            throw new InputException("must be at least 1", field: "--batch-size");
        }

        if (pr.GetValue(RunCommand.StartRow) is < 1 || pr.GetValue(RunCommand.EndRow) is < 1)
        {
            throw new InputException("row numbers start at 1 (the first row after the header)", field: pr.GetValue(RunCommand.StartRow) is < 1 ? "--start-row" : "--end-row");
        }

        if (pr.GetValue(RunCommand.MaxBatchTokens) is < 1)
        {
            throw new InputException("must be at least 1", field: "--max-batch-tokens");
        }

        var provider = variant?.Provider ?? JobFlow.ProviderFor(ctx, model, pr.GetValue(RunCommand.Provider));
        var exact = pr.CommandResult.Command.Options.Contains(Exact) && pr.GetValue(Exact);
        string? exactKey = null;
        if (exact && provider != ProviderNames.Anthropic)
        {
            ctx.Ui.Warn($"--exact counts with Anthropic's count_tokens endpoint; {model} is not an Anthropic model, so its tokens are counted offline as usual.");
            exact = false;
        }
        else if (exact)
        {
            if (inputArg == "-")
            {
                throw new InputException("--exact reads the input twice, which standard input cannot do", field: "--exact", hint: "give the input as a file");
            }

            exactKey = ctx.Settings.ApiKey(provider, pr.GetValue(RunCommand.ApiKey)).Value
                ?? throw new InputException(
                    $"--exact asks Anthropic's count_tokens endpoint, which needs a key: set {Config.Settings.KeyYamlPath(provider)} in config/user.yaml or the {Config.Settings.KeyVariable(provider)} environment variable",
                    field: "--exact", hint: "or drop --exact for the offline estimate", exitCode: ExitCodes.MissingKey);
        }

        var selection = RunCommand.ReadSelection(pr, ctx);
        var prices = ctx.Prices;
        var readOptions = new TableReadOptions { Delimiter = pr.GetValue(RunCommand.Delimiter), Encoding = pr.GetValue(RunCommand.Encoding), Format = pr.GetValue(RunCommand.InputFormat) };
        using var reader = inputArg == "-" ? TableReader.Open(Console.OpenStandardInput(), "<stdin>", readOptions) : TableReader.Open(inputArg, readOptions);
        var spec = new JobSpec
        {
            InputPath = inputArg == "-" ? "<stdin>" : inputArg,
            InputSha256 = string.Empty,
            Provider = provider,
            Model = model,
            Prompt = prompt!,
            System = pr.GetValue(RunCommand.System),
            MaxTokens = pr.GetValue(RunCommand.MaxTokens),
            Temperature = pr.GetValue(RunCommand.Temperature),
            IdColumn = pr.GetValue(RunCommand.IdColumn),
            StartRow = pr.GetValue(RunCommand.StartRow),
            EndRow = pr.GetValue(RunCommand.EndRow),
            Examples = selection.Examples,
            Where = selection.Where,
            Limit = selection.Limit,
            Delimiter = pr.GetValue(RunCommand.Delimiter),
            Encoding = pr.GetValue(RunCommand.Encoding),
            Endpoint = "estimate",
        };
        spec = InputOptions.Apply(pr, ctx, spec, reader.Columns, inputArg);
        if (spec.IdColumn is { } idColumn && !reader.Columns.Contains(idColumn, StringComparer.Ordinal))
        {
            throw new InputException($"the id column '{idColumn}' is not in the input", file: spec.InputPath, field: "--id-column",
                hint: "columns are: " + string.Join(", ", reader.Columns));
        }

        // The observed average needs the store only if one exists: an estimate must not create an empty store.
        ObservedOutput? observed = null;
        if (File.Exists(ctx.Settings.Database(ctx.Globals.Db).Value))
        {
            observed = await JobEstimator.ObservedOutputAsync(ctx.Store, spec, cancellationToken: ct).ConfigureAwait(false);
        }

        // A client is built only to size request lines as the provider file will hold them; it sends nothing.
        using var sizer = BatchClients.Create(new BatchClientOptions
        {
            Provider = provider,
            BaseUrl = provider == ProviderNames.Anthropic ? BatchClients.AnthropicDefaultBaseUrl : BatchClients.OpenAIDefaultBaseUrl,
            ApiKey = "estimate",
            SpoolDirectory = Path.GetTempPath(),
            MaxRequestsPerBatch = batchSize,
        }, ctx.Time);
        ctx.MaxBatchTokensFlag = pr.GetValue(RunCommand.MaxBatchTokens);
        var estimate = JobEstimator.Estimate(
            spec,
            reader.Columns,
            reader.ReadRows(ct).Select(r => new SourceRow(r.Index, r.Row, r.Values)),
            new EstimateOptions
            {
                Limits = sizer.Limits,
                Measure = sizer.MeasureRequest,
                MaxTokensPerBatch = ctx.EngineOptions(model).MaxTokensPerBatch,
                Observed = observed,
                Prices = prices,
            },
            ct);
        if (exact)
        {
            var counted = await CountExactAsync(ctx, spec, reader.Columns, inputArg, readOptions, exactKey!, RunCommand.RequireBaseUrl(ctx, provider, pr.GetValue(RunCommand.BaseUrl)), ct).ConfigureAwait(false);
            estimate = JobEstimator.Of(spec, estimate.Items, counted, estimate.Batches, observed, prices) with { InputTokensBasis = TokenCountBasis.CountTokens };
        }

        if (!estimate.PriceKnown)
        {
            ctx.Ui.Warn($"no price known for model '{model}': cost is unknown (not zero). Add it under prices: in config/user.yaml (USD per 1M tokens: input, cached_input, output, batch_input, batch_output).");
        }

        return estimate;
    }

    /// <summary>
    /// The exact input tokens of every selected request, from Anthropic's <c>count_tokens</c> endpoint: a second pass over
    /// the input, <see cref="ExactConcurrency"/> calls at once, paced by the limiter (which learns the endpoint's own
    /// limits from its headers) and retried like sync requests.
    /// </summary>
    private static async Task<long> CountExactAsync(CliContext ctx, JobSpec spec, IReadOnlyList<string> columns, string input, TableReadOptions readOptions, string key, string baseUrl, CancellationToken ct)
    {
        using var client = SyncClients.Create(new BatchClientOptions
        {
            Provider = ProviderNames.Anthropic,
            Api = SyncClients.AnthropicCountTokens,
            BaseUrl = new Uri(baseUrl),
            ApiKey = key,
            SpoolDirectory = Path.GetTempPath(),
        }, ctx.Time);
        var limiter = new SyncLimiter(ctx.Time);
        var options = new SyncOptions { Retry = ctx.SyncRetryOptions() };
        var factory = new Planning.RequestFactory(spec, columns, spec.InputPath);
        long total = 0, counted = 0;
        using var reader = TableReader.Open(input, readOptions);
        var requests = JobIngest.Select(spec, columns, reader.ReadRows(ct).Select(r => new SourceRow(r.Index, r.Row, r.Values)))
            .Select(r => new IdentifiedRequest("row-" + r.Index.ToString(CultureInfo.InvariantCulture), factory.Create(r.Values)));
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = ExactConcurrency, CancellationToken = ct }, async (request, token) =>
        {
            var outcome = await SyncAttempts.SendAsync(client, limiter, request with { Request = request.Request with { MaxTokens = 0 } }, options, ctx.Time, token).ConfigureAwait(false);
            if (outcome.Result.Kind != ResultKind.Succeeded)
            {
                throw new ProviderException(ProviderNames.Anthropic,
                    $"count_tokens failed for {request.CustomId} (row {request.CustomId[4..]}): {(outcome.Result.StatusCode is { } s ? "HTTP " + s.ToString(CultureInfo.InvariantCulture) + " " : string.Empty)}{outcome.Result.ErrorCode}: {outcome.Result.ErrorMessage}",
                    outcome.Result.StatusCode, outcome.Result.ErrorCode);
            }

            Interlocked.Add(ref total, outcome.Result.Usage?.InputTokens ?? 0);
            Interlocked.Increment(ref counted);
        }).ConfigureAwait(false);
        return total;
    }

    private static void PrintComparison(CliContext ctx, List<(Variant Variant, JobEstimate Estimate)> estimates)
    {
        // The total sums the variants as shown (each cost rounded to a millionth of a dollar by its view).
        var all = estimates.Select(e => EstimateView.Of(e.Estimate)).ToList();
        var known = all.TrueForAll(e => e.PriceKnown);
        var total = new ComparisonTotalView
        {
            Items = all.Sum(e => e.Items),
            InputTokens = all.Sum(e => e.InputTokens),
            OutputTokens = all.Sum(e => e.OutputTokens),
            CostSyncUsd = known ? all.Sum(e => e.CostSyncUsd ?? 0) : null,
            CostBatchUsd = known ? all.Sum(e => e.CostBatchUsd ?? 0) : null,
            Batches = all.Sum(e => e.Batches),
            PriceKnown = known,
        };
        if (ctx.Ui.Json)
        {
            var view = new ComparisonEstimateView
            {
                Variants = [.. estimates.Select((e, i) => new VariantEstimateView { Label = e.Variant.Label, Estimate = all[i] })],
                Total = total,
            };
            ctx.Ui.WriteJson(view, CostJson.Default.ComparisonEstimateView);
            return;
        }

        var t = new Table().Border(TableBorder.Rounded)
            .AddColumn("Variant").AddColumn(new TableColumn("Items").RightAligned()).AddColumn(new TableColumn("Input tokens").RightAligned())
            .AddColumn(new TableColumn("Output tokens").RightAligned()).AddColumn(new TableColumn("Sync API").RightAligned())
            .AddColumn(new TableColumn("Batch API").RightAligned()).AddColumn(new TableColumn("Batches").RightAligned());
        foreach (var (variant, e) in estimates)
        {
            t.AddRow(Markup.Escape($"{variant.Label} ({e.Provider})"), Ui.Format.Number(e.Items), Ui.Format.Number(e.InputTokens), Ui.Format.Number(e.OutputTokens),
                Ui.Format.Money(e.CostSyncUsd), Ui.Format.Money(e.CostBatchUsd), e.Batches.ToString(CultureInfo.InvariantCulture));
        }

        t.AddRow("[bold]Total[/]", Ui.Format.Number(total.Items), Ui.Format.Number(total.InputTokens), Ui.Format.Number(total.OutputTokens),
            Ui.Format.Money(total.CostSyncUsd), Ui.Format.Money(total.CostBatchUsd), total.Batches.ToString(CultureInfo.InvariantCulture));
        ctx.Ui.Write(t);
    }

    private static void Print(CliContext ctx, JobEstimate e)
    {
        if (ctx.Ui.Json)
        {
            ctx.Ui.WriteJson(EstimateView.Of(e), CostJson.Default.EstimateView);
            return;
        }

        var t = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumn("Field").AddColumn("Value");
        t.AddRow("Model", Markup.Escape($"{e.Provider} / {e.Model}"));
        t.AddRow("Items", Ui.Format.Number(e.Items));
        t.AddRow("Input tokens", Ui.Format.Number(e.InputTokens) + " (" + BasisName(e.InputTokensBasis).Replace('_', ' ') + ")");
        t.AddRow("Output tokens", Ui.Format.Number(e.OutputTokens) + " " + Markup.Escape(OutputBasis(e)));
        t.AddRow("Cost, sync API", Ui.Format.Money(e.CostSyncUsd));
        t.AddRow("Cost, Batch API", Ui.Format.Money(e.CostBatchUsd));
        t.AddRow("Provider batches", e.Batches.ToString(CultureInfo.InvariantCulture));
        if (e.Images > 0 || e.ImageProblems > 0)
        {
            t.AddRow("Images", $"{Ui.Format.Number(e.Images)} ({Ui.Format.Number(e.ImageTokens)} input tokens by the provider's image rule)");
        }

        ctx.Ui.Write(t);
        if (e.ImageProblems > 0)
        {
            ctx.Ui.Warn($"{e.ImageProblems} row(s) would not be sent because of their image (see 'batchpilot preview' for the reason); they are left out of the estimate.");
        }
    }

    /// <summary>The name of a token count basis in the JSON: <c>tokenizer</c>, <c>estimate</c> or <c>count_tokens</c>.</summary>
    internal static string BasisName(TokenCountBasis basis) => basis switch
    {
        TokenCountBasis.Exact => "tokenizer",
        TokenCountBasis.CountTokens => "count_tokens",
        _ => "estimate",
    };

    private static string OutputBasis(JobEstimate e) => e.OutputTokensSource switch
    {
        OutputTokenSource.Observed => $"(observed average {e.OutputTokensPerItem.ToString("0.#", CultureInfo.InvariantCulture)} per item over {e.ObservedJobs} earlier job(s))",
        OutputTokenSource.MaxTokens => $"(at most {e.OutputTokensPerItem.ToString("0", CultureInfo.InvariantCulture)} per item: --max-tokens)",
        _ => $"(assumed {e.OutputTokensPerItem.ToString("0", CultureInfo.InvariantCulture)} per item: no --max-tokens, no earlier run)",
    };
}

/// <summary>The estimate of a comparison (<c>estimate --model a,b</c> or several prompts): one per variant, and the total.</summary>
internal sealed record ComparisonEstimateView
{
    public required IReadOnlyList<VariantEstimateView> Variants { get; init; }

    public required ComparisonTotalView Total { get; init; }
}

/// <summary>One variant's estimate, with the label its columns carry in the comparison's output.</summary>
internal sealed record VariantEstimateView
{
    public required string Label { get; init; }

    /// <summary>The same fields as the estimate of one job.</summary>
    public required EstimateView Estimate { get; init; }
}

/// <summary>The sums over a comparison's variants; the costs are null when one variant's model has no price.</summary>
internal sealed record ComparisonTotalView
{
    public required long Items { get; init; }

    public required long InputTokens { get; init; }

    public required long OutputTokens { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public decimal? CostSyncUsd { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public decimal? CostBatchUsd { get; init; }

    public required int Batches { get; init; }

    public required bool PriceKnown { get; init; }
}

/// <summary>The JSON of <c>batchpilot estimate --json</c>.</summary>
internal sealed record EstimateView
{
    public required string Model { get; init; }

    public required string Provider { get; init; }

    public required long Items { get; init; }

    public required long InputTokens { get; init; }

    /// <summary><c>tokenizer</c>, <c>estimate</c> or <c>count_tokens</c>.</summary>
    public required string InputTokensBasis { get; init; }

    public required long OutputTokens { get; init; }

    /// <summary><c>observed</c>, <c>max_tokens</c> or <c>default</c>.</summary>
    public required string OutputTokensBasis { get; init; }

    /// <summary>Null when the model has no known price (written as null, never omitted).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public decimal? CostSyncUsd { get; init; }

    /// <summary>Null when the model has no known price (written as null, never omitted).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public decimal? CostBatchUsd { get; init; }

    public required int Batches { get; init; }

    public required bool PriceKnown { get; init; }

    public long Images { get; init; }

    public long ImageTokens { get; init; }

    public long ImageProblems { get; init; }

    public static EstimateView Of(JobEstimate e) => new()
    {
        Images = e.Images,
        ImageTokens = e.ImageTokens,
        ImageProblems = e.ImageProblems,
        Model = e.Model,
        Provider = e.Provider,
        Items = e.Items,
        InputTokens = e.InputTokens,
        InputTokensBasis = EstimateCommand.BasisName(e.InputTokensBasis),
        OutputTokens = e.OutputTokens,
        OutputTokensBasis = e.OutputTokensSource switch
        {
            OutputTokenSource.Observed => "observed",
            OutputTokenSource.MaxTokens => "max_tokens",
            _ => "default",
        },
        CostSyncUsd = e.CostSyncUsd is { } s ? Math.Round(s, 6) : null,
        CostBatchUsd = e.CostBatchUsd is { } b ? Math.Round(b, 6) : null,
        Batches = e.Batches,
        PriceKnown = e.PriceKnown,
    };
}
