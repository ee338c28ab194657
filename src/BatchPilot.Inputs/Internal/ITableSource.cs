namespace BatchPilot.Inputs.Internal;

/// <summary>A table format behind <see cref="TableReader"/>.</summary>
internal interface ITableSource : IDisposable
{
    /// <summary>The column names.</summary>
    IReadOnlyList<string> Columns { get; }

    /// <summary>The separator of a CSV table; <see langword="null"/> for JSONL.</summary>
    char? Separator { get; }

    /// <summary>Reads the data rows, once.</summary>
    IEnumerable<TableRow> ReadRows(CancellationToken cancellationToken);
}
