using System.Globalization;
using System.Text.RegularExpressions;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Providers;
using BatchPilot.Storage;

namespace BatchPilot.Running;

/// <summary>One data row of an input table.</summary>
/// <param name="Index">1-based among data rows.</param>
/// <param name="Row">Spreadsheet row (header = 1) or JSONL line.</param>
/// <param name="Values">Values aligned with the columns.</param>
public readonly record struct SourceRow(long Index, long Row, string?[] Values);

/// <summary>Reads a job's rows into the store as items, in chunks, resumable after a crash.</summary>
public static partial class JobIngest
{
    private const int Chunk = 5000;

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex CustomIdRegex();

    /// <summary>True when a value can be sent as a custom id to every provider.</summary>
    public static bool IsValidCustomId(string value) => CustomIdRegex().IsMatch(value);

    /// <summary>
    /// Inserts the selected rows as items, skipping those already stored by an interrupted earlier run.
    /// Returns the number of items. Validates every row before the job becomes Pending.
    /// </summary>
    /// <exception cref="InputException">A row is unusable (empty or duplicate id, request too large, empty selection).</exception>
    public static async Task<long> IngestAsync(IJobStore store, JobRecord job, IEnumerable<SourceRow> rows, IBatchClient sizer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(sizer);
        var spec = job.Spec;
        var factory = new RequestFactory(spec, job.Columns, spec.InputPath);
        var idIndex = -1;
        if (spec.IdColumn is not null)
        {
            idIndex = job.Columns.ToList().FindIndex(c => string.Equals(c, spec.IdColumn, StringComparison.Ordinal));
            if (idIndex < 0)
            {
                throw new InputException($"the id column '{spec.IdColumn}' is not in the input", file: spec.InputPath, field: "--id-column",
                    hint: "use one of: " + string.Join(", ", job.Columns));
            }
        }

        var where = WhereIndexes(spec, job.Columns);
        var already = await store.GetMaxItemSeqAsync(job.Id, cancellationToken).ConfigureAwait(false);
        var limits = sizer.Limits;
        var buffer = new List<NewItem>(Chunk);
        long seq = 0;
        long lastIndex = 0;
        foreach (var row in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lastIndex = row.Index;
            if (spec.StartRow is { } start && row.Index < start)
            {
                continue;
            }

            if (spec.EndRow is { } end && row.Index > end)
            {
                break;
            }

            if (!Matches(where, row.Values))
            {
                continue;
            }

            if (spec.Limit is { } limit && seq >= limit)
            {
                break;
            }

            seq++;
            if (seq <= already)
            {
                continue;
            }

            string customId;
            if (idIndex >= 0)
            {
                // A raw batch file's custom ids were checked against the provider's rules and are sent as written.
                var raw = spec.Kind == JobKind.Raw;
                var value = idIndex < row.Values.Length ? (raw ? row.Values[idIndex] : row.Values[idIndex]?.Trim()) : null;
                if (string.IsNullOrEmpty(value))
                {
                    throw new InputException("the id is empty", file: spec.InputPath, row: row.Row, field: spec.IdColumn,
                        hint: "give every row an id, or leave out --id-column to number rows automatically");
                }

                if (!raw && !IsValidCustomId(value))
                {
                    throw new InputException($"the id '{value}' cannot be sent as a custom_id (only letters, digits, '-' and '_', at most 64 characters)",
                        file: spec.InputPath, row: row.Row, field: spec.IdColumn, hint: "use a column with such ids, or leave out --id-column to number rows automatically");
                }

                customId = value;
            }
            else
            {
                customId = "row-" + row.Index.ToString(CultureInfo.InvariantCulture);
            }

            if (factory.LengthBound(row.Values) * 6 > limits.MaxBytes / 2)
            {
                var size = sizer.MeasureRequest(new IdentifiedRequest(customId, factory.Create(row.Values)));
                if (size > limits.MaxBytes)
                {
                    throw new InputException(
                        $"the request of this row is {size.ToString(CultureInfo.InvariantCulture)} bytes, more than a whole batch may hold ({limits.MaxBytes.ToString(CultureInfo.InvariantCulture)} bytes)",
                        file: spec.InputPath, row: row.Row, hint: "shorten the row's text or the prompt, or lower nothing: no batch can carry it");
                }
            }

            buffer.Add(new NewItem(seq, customId, row.Row, row.Values));
            if (buffer.Count >= Chunk)
            {
                await FlushAsync(store, job, buffer, cancellationToken).ConfigureAwait(false);
            }
        }

        await FlushAsync(store, job, buffer, cancellationToken).ConfigureAwait(false);
        if (seq == 0)
        {
            if (spec.StartRow is { } s && s > lastIndex)
            {
                throw new InputException($"--start-row {s.ToString(CultureInfo.InvariantCulture)} is beyond the last data row ({lastIndex.ToString(CultureInfo.InvariantCulture)})",
                    file: spec.InputPath, field: "--start-row", hint: $"use a value from 1 to {lastIndex.ToString(CultureInfo.InvariantCulture)}");
            }

            throw new InputException("no rows selected", file: spec.InputPath,
                hint: spec.Where.Count > 0 ? "no row matches --where; check the values (matching is exact)" : "check --start-row and --end-row");
        }

        await store.TrySetJobStatusAsync(job.Id, [JobStatus.Preparing], JobStatus.Pending, $"{seq} items read from {spec.InputPath}.", seq, cancellationToken).ConfigureAwait(false);
        return seq;
    }

    /// <summary>
    /// Applies --start-row/--end-row, then --where, then --limit to rows, the same way ingestion does.
    /// </summary>
    /// <exception cref="InputException">A --where column is not in the input.</exception>
    public static IEnumerable<SourceRow> Select(JobSpec spec, IReadOnlyList<string> columns, IEnumerable<SourceRow> rows)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        var where = WhereIndexes(spec, columns);
        return Iterate();

        IEnumerable<SourceRow> Iterate()
        {
            long n = 0;
            foreach (var row in rows)
            {
                if (spec.StartRow is { } start && row.Index < start)
                {
                    continue;
                }

                if ((spec.EndRow is { } end && row.Index > end) || (spec.Limit is { } limit && n >= limit))
                {
                    yield break;
                }

                if (Matches(where, row.Values))
                {
                    n++;
                    yield return row;
                }
            }
        }
    }

    private static (int Index, string Value)[] WhereIndexes(JobSpec spec, IReadOnlyList<string> columns)
    {
        var result = new (int Index, string Value)[spec.Where.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var filter = spec.Where[i];
            var index = -1;
            for (var c = 0; c < columns.Count && index < 0; c++)
            {
                index = string.Equals(columns[c], filter.Column, StringComparison.Ordinal) ? c : -1;
            }

            if (index < 0)
            {
                throw new InputException($"the column '{filter.Column}' is not in the input", file: spec.InputPath, field: "--where",
                    hint: "use one of: " + string.Join(", ", columns));
            }

            result[i] = (index, filter.Value);
        }

        return result;
    }

    private static bool Matches((int Index, string Value)[] where, string?[] values)
    {
        foreach (var (index, value) in where)
        {
            var v = index < values.Length ? values[index] ?? string.Empty : string.Empty;
            if (!string.Equals(v, value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static async Task FlushAsync(IJobStore store, JobRecord job, List<NewItem> buffer, CancellationToken cancellationToken)
    {
        if (buffer.Count == 0)
        {
            return;
        }

        try
        {
            await store.AppendItemsAsync(job.Id, buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateCustomIdException ex)
        {
            throw new InputException($"the id '{ex.CustomId}' appears more than once", file: job.Spec.InputPath, row: ex.SourceRow, field: job.Spec.IdColumn,
                hint: "ids must be unique; fix the duplicate or leave out --id-column");
        }

        buffer.Clear();
        Checkpoints.Hit(Checkpoints.IngestChunk);
    }
}
