using System.Text.Json.Serialization;

namespace BatchPilot.Emulator.Storage;

/// <summary>An OpenAI file object as stored (content lives in a sibling <c>.data</c> file).</summary>
internal sealed class FileRecord
{
    public required string Id { get; init; }
    public long Seq { get; init; }
    public long Bytes { get; set; }
    public long CreatedAt { get; init; }
    public required string Filename { get; init; }
    public required string Purpose { get; init; }
    public long? ExpiresAt { get; init; }

    /// <summary>truncated_download fault: downloads stop after this share of the bytes and the connection is reset.</summary>
    public double? TruncateFraction { get; init; }
}

/// <summary>One validation error of an OpenAI batch (<c>errors.data[]</c>).</summary>
internal sealed class BatchErrorRecord
{
    public required string Code { get; init; }
    public required string Message { get; init; }
    public string? Param { get; init; }
    public int? Line { get; init; }
}

/// <summary>
/// What an OpenAI batch is: its inputs and decisions taken at creation. Its status is not stored but
/// computed from the clock (<see cref="OpenAI.OpenAIBatchEngine"/>); only the results of output
/// generation are written back.
/// </summary>
internal sealed class OpenAIBatchRecord
{
    public required string Id { get; init; }
    public long Seq { get; init; }
    public required string Endpoint { get; init; }
    public required string InputFileId { get; init; }
    public string CompletionWindow { get; init; } = "24h";
    public Dictionary<string, string>? Metadata { get; init; }
    public string? Model { get; init; }
    public long CreatedAtMs { get; init; }
    public long DurationMs { get; init; }
    public int Total { get; init; }
    public List<BatchErrorRecord>? ValidationErrors { get; init; }
    public BatchFaultSnapshot Faults { get; init; } = new();
    public long? CancelRequestedAtMs { get; set; }

    // Set once the output and error files have been written.
    public bool Generated { get; set; }
    public string? OutputFileId { get; set; }
    public string? ErrorFileId { get; set; }
    public int Completed { get; set; }
    public int Failed { get; set; }
    public long InputTokens { get; set; }
    public long OutputTokens { get; set; }
}

/// <summary>An Anthropic message batch; requests are spooled to <c>{id}.requests.jsonl</c>.</summary>
internal sealed class AnthropicBatchRecord
{
    public required string Id { get; init; }
    public long Seq { get; init; }
    public long CreatedAtMs { get; init; }
    public long DurationMs { get; init; }
    public int Total { get; init; }
    public BatchFaultSnapshot Faults { get; init; } = new();
    public long? CancelRequestedAtMs { get; set; }
    public bool Deleted { get; set; }

    public bool Generated { get; set; }
    public int Succeeded { get; set; }
    public int Errored { get; set; }
    public int Canceled { get; set; }
    public int Expired { get; set; }
}

/// <summary>The item and batch faults in force when a batch was created; they decide its fate.</summary>
internal sealed class BatchFaultSnapshot
{
    public int Seed { get; init; }
    public List<ItemFaultRule> Items { get; init; } = [];
    public List<BatchFaultRule> Batch { get; init; } = [];
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(FileRecord))]
[JsonSerializable(typeof(OpenAIBatchRecord))]
[JsonSerializable(typeof(AnthropicBatchRecord))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
