using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Providers;
using BatchPilot.Storage;

namespace BatchPilot.Running;

/// <summary>
/// Checks the images of items about to be sent (batch planning and sync chunks alike). An item whose image is missing,
/// unreadable, of another type or too large is not sent: it fails with the problem's code and message (file, row and
/// column), or with <c>--skip-missing-images</c> it is cancelled with code <see cref="ImageProblem.SkippedCode"/>. The
/// rest of the job goes on; <c>resume</c> checks the failed ones again.
/// </summary>
public static class ImagePreflight
{
    /// <summary>The items of <paramref name="page"/> whose images can be sent; the others are ended in the store.</summary>
    public static async Task<IReadOnlyList<ItemRecord>> FilterAsync(IJobStore store, JobRecord job, RequestFactory factory, IReadOnlyList<ItemRecord> page, IEngineObserver observer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(observer);
        if (!factory.HasImages)
        {
            return page;
        }

        var ok = new List<ItemRecord>(page.Count);
        var ended = new List<ResultLine>();
        foreach (var item in page)
        {
            if (factory.CheckImages(item.Values, item.SourceRow) is not { } problem)
            {
                ok.Add(item);
                continue;
            }

            ended.Add(job.Spec.SkipMissingImages
                ? new ResultLine { CustomId = item.CustomId, Kind = ResultKind.Cancelled, ErrorCode = ImageProblem.SkippedCode, ErrorMessage = "skipped (--skip-missing-images): " + problem.Message }
                : new ResultLine { CustomId = item.CustomId, Kind = ResultKind.Failed, ErrorCode = problem.Code, ErrorMessage = problem.Message });
        }

        if (ended.Count > 0)
        {
            var verb = job.Spec.SkipMissingImages ? "skipped" : "failed";
            var reason = $"{ended.Count} item(s) {verb} before sending because of their image: {ended[0].ErrorMessage}{(ended.Count > 1 ? $" (and {ended.Count - 1} more)" : string.Empty)}";
            await store.EndPendingItemsAsync(job.Id, ended, reason, cancellationToken).ConfigureAwait(false);
            observer.Warn(reason);
        }

        return ok;
    }

    /// <summary>The items skipped with <c>--skip-missing-images</c>: how many, and the custom ids of the first <paramref name="maxIds"/>.</summary>
    public static async Task<(long Count, IReadOnlyList<string> Ids)> SkippedAsync(IJobStore store, string jobId, int maxIds = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        long count = 0;
        var ids = new List<string>();
        long after = 0;
        while (true)
        {
            var page = await store.ReadItemsPageAsync(jobId, ItemStatus.Cancelled, after, 5000, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            foreach (var item in page.Where(i => i.ErrorCode == ImageProblem.SkippedCode))
            {
                count++;
                if (ids.Count < maxIds)
                {
                    ids.Add(item.CustomId);
                }
            }

            after = page[^1].Seq;
        }

        return (count, ids);
    }
}
