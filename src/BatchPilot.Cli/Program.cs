using BatchPilot.Cli;

return await CliApp.RunAsync(args, CliApp.Environment.Process()).ConfigureAwait(false);
