using System.Runtime.InteropServices;
using BatchPilot.Cli;

// Ctrl+C and SIGTERM cancel the running verb, which saves its state and exits with its own code (130);
// a second signal ends the process at once. Handled here because an embedded web host would swallow SIGTERM.
using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    if (!stop.IsCancellationRequested)
    {
        context.Cancel = true;
        stop.Cancel();
    }
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
return await CliApp.RunAsync(args, CliApp.Environment.Process(), stop.Token).ConfigureAwait(false);
