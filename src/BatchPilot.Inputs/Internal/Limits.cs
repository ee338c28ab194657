namespace BatchPilot.Inputs.Internal;

/// <summary>Sizes the readers work within.</summary>
internal static class Limits
{
    /// <summary>
    /// The largest CSV record or JSONL line, in bytes. Far above any prompt a model accepts, and low enough that an
    /// unclosed quote at the top of a large file is reported instead of pulling the whole file into memory.
    /// </summary>
    public const int MaxRecordBytes = 64 * 1024 * 1024;

    /// <summary>How many bytes from the start of a file are examined for its kind (zip, NUL bytes, byte order mark).</summary>
    public const int SniffBytes = 8192;

    /// <summary>The read buffer of the JSONL reader and the file streams.</summary>
    public const int BufferSize = 64 * 1024;
}
