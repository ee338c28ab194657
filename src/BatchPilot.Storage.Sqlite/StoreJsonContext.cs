using System.Text.Json.Serialization;
using BatchPilot.Jobs;

namespace BatchPilot.Storage.Sqlite;

/// <summary>JSON of store payloads (job specs, row values).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(JobSpec))]
[JsonSerializable(typeof(string[]), TypeInfoPropertyName = "StringArray")]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
