using System.Security.Cryptography;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage;

namespace BatchPilot.Operations;

/// <summary>What <see cref="CreateJob.RunAsync"/> needs to turn a table into a stored job.</summary>
public sealed record CreateJobRequest
{
    /// <summary>What the job sends (its fingerprint identifies "the same command").</summary>
    public required JobSpec Spec { get; init; }

    /// <summary>Display name.</summary>
    public required string Name { get; init; }

    /// <summary>The input's columns, in file order.</summary>
    public required IReadOnlyList<string> Columns { get; init; }

    /// <summary>
    /// Opens the input's data rows; called at most once. The enumerable should release the file when the
    /// enumeration ends (an iterator with a <c>using</c> does).
    /// </summary>
    public required Func<CancellationToken, IEnumerable<SourceRow>> Rows { get; init; }

    /// <summary>Always create a new job, even when one with the same fingerprint exists.</summary>
    public bool StartNew { get; init; }

    /// <summary>
    /// The id of the job to continue, or to create when it does not exist yet; null: the newest job with the same
    /// fingerprint, or a new id. A comparison reserves its children's ids before creating them, so a rerun after a crash
    /// continues exactly its own children.
    /// </summary>
    public string? JobId { get; init; }
}

/// <summary>What <see cref="CreateJob.RunAsync"/> did.</summary>
/// <param name="Job">The job, as stored now.</param>
/// <param name="Created">True when a new job was created; false when an existing one was continued.</param>
/// <param name="Items">Items stored for the job.</param>
public sealed record CreateJobResult(JobRecord Job, bool Created, long Items);

/// <summary>
/// Creates (or continues) a job from a table: validates the templates against the columns, reuses the job with the
/// same fingerprint unless told otherwise, inserts the job and ingests its rows. A new job whose input turns out to be
/// unusable is deleted again, so a bad file leaves nothing behind. Shared by <c>batchpilot run</c> and the dashboard.
/// </summary>
public static class CreateJob
{
    /// <summary>A new short job id such as <c>job-7f3a9c</c>.</summary>
    public static string NewJobId() => "job-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));

    /// <summary>Creates or continues the job and reads its rows into the store.</summary>
    /// <param name="store">The job store.</param>
    /// <param name="request">The job to create.</param>
    /// <param name="sizer">A client of the job's provider (used to measure requests against its limits; nothing is sent).</param>
    /// <param name="time">The clock.</param>
    /// <param name="cancellationToken">Cancels the ingest (a rerun continues it).</param>
    /// <exception cref="InputException">A template names a missing column, or a row is unusable.</exception>
    public static async Task<CreateJobResult> RunAsync(IJobStore store, CreateJobRequest request, IBatchClient sizer, TimeProvider time, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(sizer);
        ArgumentNullException.ThrowIfNull(time);
        var spec = request.Spec;

        // Validate the templates against the columns before anything is stored or sent.
        _ = new RequestFactory(spec, request.Columns, spec.InputPath);

        var fingerprint = spec.Fingerprint();
        if (request.JobId is { } reserved && await FindReservedAsync(store, reserved, fingerprint, cancellationToken).ConfigureAwait(false) is { } continued)
        {
            return await ContinueAsync(store, request, continued, sizer, cancellationToken).ConfigureAwait(false);
        }

        var now = time.GetUtcNow();
        var job = new JobRecord
        {
            Id = request.JobId ?? NewJobId(),
            Name = request.Name,
            Spec = spec,
            Fingerprint = fingerprint,
            Status = JobStatus.Preparing,
            Columns = request.Columns,
            CreatedAt = now,
            UpdatedAt = now,
        };

        // Without a reserved id or --new, the look-up of the same command's job and the insert are one step, so that two
        // processes started with the same command at the same instant continue one job (and never send its rows twice).
        var existing = request.JobId is null && !request.StartNew
            ? await store.CreateJobUnlessFingerprintExistsAsync(job, cancellationToken).ConfigureAwait(false)
            : await CreateAsync(store, job, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return await ContinueAsync(store, request, existing, sizer, cancellationToken).ConfigureAwait(false);
        }

        long items;
        try
        {
            items = await JobIngest.IngestAsync(store, job, request.Rows(cancellationToken), sizer, cancellationToken).ConfigureAwait(false);
        }
        catch (InputException)
        {
            await store.DeleteJobAsync(job.Id, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        job = await store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? job;
        return new CreateJobResult(job, true, items);
    }

    private static async Task<JobRecord?> CreateAsync(IJobStore store, JobRecord job, CancellationToken cancellationToken)
    {
        await store.CreateJobAsync(job, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>An existing job: finishes reading its input when an earlier run (or one running now) had not.</summary>
    private static async Task<CreateJobResult> ContinueAsync(IJobStore store, CreateJobRequest request, JobRecord job, IBatchClient sizer, CancellationToken cancellationToken)
    {
        var items = job.Status == JobStatus.Preparing
            ? await JobIngest.IngestAsync(store, job, request.Rows(cancellationToken), sizer, cancellationToken).ConfigureAwait(false)
            : job.TotalItems;
        job = await store.GetJobAsync(job.Id, cancellationToken).ConfigureAwait(false) ?? job;
        return new CreateJobResult(job, false, items);
    }

    private static async Task<JobRecord?> FindReservedAsync(IJobStore store, string id, string fingerprint, CancellationToken cancellationToken)
    {
        var job = await store.GetJobAsync(id, cancellationToken).ConfigureAwait(false);
        if (job is null || !string.Equals(job.Id, id, StringComparison.Ordinal))
        {
            return null;
        }

        return string.Equals(job.Fingerprint, fingerprint, StringComparison.Ordinal)
            ? job
            : throw new InvalidOperationException($"job {id} was reserved for another request (fingerprint {job.Fingerprint[..12]}…, expected {fingerprint[..12]}…)");
    }
}
