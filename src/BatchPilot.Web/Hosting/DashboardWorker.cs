using Microsoft.Extensions.Hosting;

namespace BatchPilot.Web.Hosting;

/// <summary>
/// The background work of the server: keeps the job list fresh, computes wanted estimates, and runs the engine on every
/// job with batches at the provider (poll, collect, submit planned), so jobs advance with no one watching.
/// </summary>
internal sealed class DashboardWorker(DashboardState state) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = state.Options;
        var lastPoll = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await state.Index.RefreshAsync(stoppingToken);
                await state.Index.ComputeEstimatesAsync(stoppingToken);
                var now = state.Time.GetUtcNow();
                if (o.RunBackgroundEngine && now - lastPoll >= o.PollInterval)
                {
                    lastPoll = now;
                    await state.Runner.PollAllAsync(stoppingToken);
                    await state.Index.RefreshAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.IndexFailed(state.Logger, ex.Message);
            }

            try
            {
                await Task.Delay(o.IndexInterval, state.Time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await state.Runner.DrainAsync();
    }
}
