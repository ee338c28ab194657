using System.Text.Json.Serialization;
using BatchPilot.Cli.Doctor;
using BatchPilot.Operations;

namespace BatchPilot.Cli.Ui;

/// <summary>JSON (<c>--json</c>) of the diagnose and doctor verbs: snake_case, nulls left out.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(DiagnosisReport))]
[JsonSerializable(typeof(DoctorReport))]
internal sealed partial class OpsJson : JsonSerializerContext;
