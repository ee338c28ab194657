using System.CommandLine;
using BatchPilot.Cli.Ui;
using BatchPilot.Errors;
using BatchPilot.Operations;

namespace BatchPilot.Cli.Commands;

/// <summary><c>batchpilot diagnose JOB</c>: what went wrong with a job, grouped by error code, with what to do next.</summary>
internal static class DiagnoseCommand
{
    private static readonly Argument<string> Job = new("JOB") { Description = "Job id (or a unique prefix of it, or the job name)." };
    private static readonly Option<bool> Refresh = new("--refresh") { Description = "Ask the provider for fresh statuses (and collect ended batches) first; needs the key. Default: diagnose from the store alone." };
    private static readonly Option<string?> ApiKey = new("--api-key") { Description = "API key for --refresh (default: environment, .env, then config/user.yaml)." };

    public static Command Create(JobCommands.Host host)
    {
        var cmd = new Command(
            "diagnose",
            "Explain what went wrong with a job: each batch's provider status and timestamps, validation errors with their input lines, failed items grouped by error code with a sample message and their custom_ids, the failure rate, and what to do next.")
        {
            Job, Refresh, ApiKey,
        };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, token) =>
        {
            var job = await ctx.RequireJobAsync(pr.GetValue(Job)!, token).ConfigureAwait(false);
            if (pr.GetValue(Refresh))
            {
                using var client = await ctx.ClientAsync(job.Spec, pr.GetValue(ApiKey), null, token).ConfigureAwait(false);
                job = await ctx.Engine(client, job.Spec).StepAsync(job, token).ConfigureAwait(false);
            }

            var report = await Diagnosis.RunAsync(ctx.Store, job, ctx.Time.GetUtcNow(), cancellationToken: token).ConfigureAwait(false);
            if (ctx.Ui.Json)
            {
                ctx.Ui.WriteJson(report, OpsJson.Default.DiagnosisReport);
            }
            else
            {
                DiagnosisViews.Render(ctx.Ui, report);
            }

            // The diagnosis ran: success, whatever it found.
            return ExitCodes.Success;
        }, ct));
        return cmd;
    }
}
