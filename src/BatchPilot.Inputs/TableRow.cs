namespace BatchPilot.Inputs;

/// <summary>One data row of a table.</summary>
/// <param name="Index">The 1-based position of the row among the data rows (blank lines and the header not counted).</param>
/// <param name="Row">
/// Where the row is, as error messages name it: for CSV the line where the record starts, counting the header as line 1
/// (a spreadsheet's row number as long as no value holds a line break); for JSONL the 1-based line.
/// </param>
/// <param name="Values">
/// The values, aligned with <see cref="TableReader.Columns"/>. For CSV never <see langword="null"/> (an empty field is
/// <c>""</c>); for JSONL <see langword="null"/> when the key is absent or its value is JSON <c>null</c>.
/// </param>
#pragma warning disable CA1819 // An array keeps rows cheap; the reader hands each row its own array.
public readonly record struct TableRow(long Index, long Row, string?[] Values);
#pragma warning restore CA1819
