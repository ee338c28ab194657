using System.CommandLine;
using BatchPilot.Errors;
using BatchPilot.Web;

namespace BatchPilot.Cli.Commands;

/// <summary><c>batchpilot serve</c>: the dashboard, with the background engine that moves every job along.</summary>
internal static class ServeCommand
{
    public static Command Create(JobCommands.Host host)
    {
        var urls = new Option<string>("--urls") { Description = "Address to listen on. Loopback by default; any other address requires an access token.", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var token = new Option<string?>("--token") { Description = "Access token required on every request (generated and printed once when binding beyond loopback)." };
        var emulator = new Option<bool>("--emulator") { Description = "Jobs created from the dashboard run on the built-in emulator (no key)." };
        var folder = new Option<string?>("--allowed-folder") { Description = "A folder whose CSV/JSONL files can be picked on the New job page." };
        var maxUpload = new Option<int>("--max-upload-mb") { Description = "Largest accepted upload, in MB.", DefaultValueFactory = _ => 100 };
        var poll = new Option<double>("--poll-interval") { Description = "Seconds between background status checks of running jobs.", DefaultValueFactory = _ => 10 };
        var cmd = new Command("serve", "Run the dashboard: follow, launch and act on every job from a browser, while the server moves jobs along in the background.")
        {
            urls, token, emulator, folder, maxUpload, poll,
        };
        cmd.SetAction((pr, ct) => host(pr, async (ctx, cancel) =>
        {
            var useEmulator = pr.GetValue(emulator);
            if (pr.GetValue(maxUpload) < 1)
            {
                throw new InputException("must be at least 1", field: "--max-upload-mb");
            }

            var allowed = pr.GetValue(folder) is { } f ? ctx.Resolve(f) : null;
            if (allowed is not null && !Directory.Exists(allowed))
            {
                throw new InputException("the folder does not exist", file: allowed, field: "--allowed-folder");
            }

            await using var dashboard = await Dashboard.StartAsync(
                new DashboardOptions
                {
                    Urls = pr.GetValue(urls)!,
                    Token = pr.GetValue(token),
                    Store = ctx.Store,
                    ClientFactory = (spec, token) => ctx.ClientAsync(spec, null, null, token),
                    SyncClientFactory = (spec, token) => ctx.SyncClientAsync(spec, null, token),
                    SyncLimiterFor = (spec, rpm, tpm) => ctx.Limiter(spec.Model, spec.Provider, new CliContext.RateLimitFlags(rpm, tpm, null, null)),
                    EndpointFor = provider => useEmulator ? CliContext.EmulatorEndpoint : RunCommand.RequireBaseUrl(ctx, provider, null),

                    // The CLI's prices (config overrides), daily budget, cache mode and engine/sync settings.
                    Costs = ctx.Costs,
                    EngineOptionsFor = spec => ctx.EngineOptions(spec.Model),
                    SyncOptionsFor = spec => JobFlow.SyncOptionsFor(ctx, spec),
                    DataDirectory = Path.Combine(ctx.Settings.DataDirectory(), "web"),
                    AllowedInputFolder = allowed,
                    Time = ctx.Time,
                    MaxUploadBytes = pr.GetValue(maxUpload) * 1024L * 1024L,
                    PollInterval = TimeSpan.FromSeconds(Math.Max(0.2, pr.GetValue(poll))),
                },
                cancel).ConfigureAwait(false);
            var address = dashboard.BaseAddress.ToString();
            ctx.Ui.Line(dashboard.Token is { } t ? $"BatchPilot dashboard: {address}?token={t}" : $"BatchPilot dashboard: {address}");
            if (dashboard.Token is not null)
            {
                ctx.Ui.Info("The access token is printed only once: keep the link above.");
            }

            ctx.Ui.Info($"Store: {ctx.Store.Location}. Press Ctrl+C to stop.");
            await dashboard.WaitForShutdownAsync(cancel).ConfigureAwait(false);
            return ExitCodes.Success;
        }, ct));
        return cmd;
    }
}
