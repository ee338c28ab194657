using System.CommandLine;
using BatchPilot.Errors;
using BatchPilot.Exports;
using BatchPilot.Inputs;
using BatchPilot.Inputs.BatchFiles;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Running;

namespace BatchPilot.Cli.Commands;

/// <summary>
/// <c>batchpilot submit-file</c>: a ready provider batch file (OpenAI batch JSONL, or Anthropic requests) is checked
/// locally, run as a job with its bodies sent byte for byte (split to the provider's limits), and its results written as
/// the provider's own output file, one line per request in input order.
/// </summary>
internal static class SubmitFileCommand
{
    public static readonly Argument<string> Input = new("FILE")
    {
        Description = "OpenAI batch file (one {\"custom_id\", \"method\", \"url\", \"body\"} per line) or Anthropic requests file (one {\"custom_id\", \"params\"} per line, or a create body {\"requests\": [...]}).",
    };

    public static readonly Option<string?> Format = new("--format") { Description = "openai or anthropic (default: detected from the content). The format decides the provider." };
    public static readonly Option<string?> Out = new("--out", "-o") { Description = "Output file in the provider's output format, one line per request in input order. Default: <file name>.output.jsonl in the current folder." };

    public static Command Create(JobCommands.Host host)
    {
        var cmd = new Command("submit-file", "Submit a ready OpenAI or Anthropic batch file as it is (checked locally first, split to the provider's limits), wait, and write the results in the provider's output format, in input order. Rerunning the same command continues the same job.")
        {
            Input, Format, Out, RunCommand.BatchSize, RunCommand.Name, RunCommand.CheckInterval, RunCommand.Detach, RunCommand.New, RunCommand.Emulator, RunCommand.EmulatorBatchDuration,
            RunCommand.ApiKey, RunCommand.BaseUrl, RunCommand.MaxBatchTokens, RunCommand.Timeout,
        };
        cmd.SetAction((pr, ct) => host(pr, (ctx, token) => ExecuteAsync(pr, ctx, token), ct));
        return cmd;
    }

    private static async Task<int> ExecuteAsync(ParseResult pr, CliContext ctx, CancellationToken ct)
    {
        var started = ctx.Time.GetUtcNow();
        var input = ctx.Resolve(pr.GetValue(Input)!);
        var batchSize = pr.GetValue(RunCommand.BatchSize);
        if (batchSize is < 1)
        {
            throw new InputException("must be at least 1", field: "--batch-size");
        }

        if (pr.GetValue(RunCommand.MaxBatchTokens) is < 1)
        {
            throw new InputException("must be at least 1", field: "--max-batch-tokens");
        }

        // Every request is checked before anything is stored or sent.
        var info = BatchFile.Validate(input, new BatchFileOptions { Format = pr.GetValue(Format) }, ct);
        if (info.Problems.Count > 0)
        {
            if (info.Problems.Count > 1 || info.MoreProblems)
            {
                foreach (var problem in info.Problems)
                {
                    ctx.Ui.Error(problem.ToUserLine());
                }
            }

            throw BatchFile.ProblemsError(info);
        }

        ctx.MaxBatchTokensFlag = pr.GetValue(RunCommand.MaxBatchTokens);
        ctx.EmulatorBatchSeconds = pr.GetValue(RunCommand.EmulatorBatchDuration);
        var useEmulator = pr.GetValue(RunCommand.Emulator);
        var endpoint = JobFlow.EndpointFor(ctx, info.Provider, info.ModelLabel, useEmulator, pr.GetValue(RunCommand.ApiKey), pr.GetValue(RunCommand.BaseUrl));
        var outPath = ctx.Resolve(pr.GetValue(Out) ?? RunCommand.StemOf(input) + ".output.jsonl");
        AtomicFile.EnsureWritable(outPath);
        RunCommand.RefuseOverwritingInput(outPath, input, ".output.jsonl");

        var spec = new JobSpec
        {
            Kind = JobKind.Raw,
            RawUrl = info.Url,
            InputPath = input,
            InputSha256 = InputFingerprint.ComputeSha256(input),
            Provider = info.Provider,
            Model = info.ModelLabel,
            Prompt = string.Empty,
            IdColumn = JobSpec.RawColumns[0],
            Endpoint = endpoint,
        };

        using var client = await ctx.ClientAsync(spec, pr.GetValue(RunCommand.ApiKey), batchSize, ct).ConfigureAwait(false);
        var created = await CreateJob.RunAsync(
            ctx.Store,
            new CreateJobRequest
            {
                Spec = spec,
                Name = pr.GetValue(RunCommand.Name) ?? RunCommand.StemOf(input),
                Columns = JobSpec.RawColumns,
                Rows = token => BatchFile.ReadRequests(info, token).Select((r, i) => new SourceRow(i + 1, r.Line, [r.CustomId, r.Body])),
                StartNew = pr.GetValue(RunCommand.New),
            },
            client,
            ctx.Time,
            ct).ConfigureAwait(false);
        var job = created.Job;
        var what = info.Url is null ? $"{info.Provider} / {info.ModelLabel}" : $"{info.Provider} {info.Url} / {info.ModelLabel}";
        ctx.Ui.Info(created.Created
            ? $"Job {job.Id} created: {created.Items} requests from {info.Path}, {what}{(useEmulator ? " on the built-in emulator" : string.Empty)}."
            : $"Continuing job {job.Id} ({job.Status}, created {Ui.Format.Time(job.CreatedAt)}); use --new to start over.");

        var engine = ctx.Engine(client, job.Spec);
        if (job.Status != JobStatus.Cancelled)
        {
            await JobSteps.SubmitAsync(engine, job, ct).ConfigureAwait(false);
        }

        if (pr.GetValue(RunCommand.Detach))
        {
            var detached = await JobFlow.DetachedAsync(ctx, job, "rerun the same command to collect and write the output file", ct).ConfigureAwait(false);
            return engine.BudgetStop is { } held ? JobFlow.BudgetExit(ctx, held) : detached;
        }

        var interval = TimeSpan.FromSeconds(pr.GetValue(RunCommand.CheckInterval) ?? (useEmulator ? 1 : 30));
        job = await JobFlow.WaitAsync(ctx, engine, job, interval, TimeSpan.FromHours(pr.GetValue(RunCommand.Timeout)), ct).ConfigureAwait(false);
        return await JobFlow.FinishAsync(ctx, job, outPath, "response", started, engine.BudgetStop, ct).ConfigureAwait(false);
    }
}
