using System.Text.Json.Serialization;

namespace BatchPilot.Cli.Doctor;

/// <summary>The outcome of one check.</summary>
internal static class CheckStatus
{
    public const string Ok = "ok";
    public const string Warning = "warning";
    public const string Failed = "failed";
}

/// <summary>One line of <c>batchpilot doctor</c>.</summary>
internal sealed record DoctorCheck
{
    /// <summary>What is checked: <c>runtime</c>, <c>config</c>, <c>openai</c>, <c>anthropic</c>, <c>store</c>, <c>emulator</c>.</summary>
    public required string Area { get; init; }

    /// <summary>The check within the area (<c>api key</c>, <c>connection</c>…).</summary>
    public required string Name { get; init; }

    /// <summary><c>ok</c>, <c>warning</c> or <c>failed</c>.</summary>
    public required string Status { get; init; }

    /// <summary>What was found. Never holds a key whole.</summary>
    public required string Message { get; init; }

    /// <summary>What to do, for warnings and failures.</summary>
    public string? Fix { get; init; }

    /// <summary>The exit code a failure maps to.</summary>
    [JsonIgnore]
    public int ExitCode { get; init; }
}

/// <summary>Where one setting came from, and what it overrode.</summary>
internal sealed record DoctorSetting
{
    /// <summary>Setting name, e.g. <c>openai.api_key</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The value in use (keys masked); null when not set.</summary>
    public string? Value { get; init; }

    /// <summary>Where it came from: <c>flag</c>, <c>environment</c>, <c>.env</c>, <c>config/user.yaml</c>, <c>default</c>, <c>none</c>.</summary>
    public required string Source { get; init; }

    /// <summary>The flag, variable or YAML key it was read from.</summary>
    public required string Origin { get; init; }

    /// <summary>Lower-precedence places that also set it (their values lost).</summary>
    public required IReadOnlyList<SettingCandidate> Overridden { get; init; }
}

/// <summary>A place that sets a value.</summary>
/// <param name="Source">Kind of place.</param>
/// <param name="Origin">The flag, variable or YAML key.</param>
/// <param name="Value">The value there (keys masked).</param>
internal sealed record SettingCandidate(string Source, string Origin, string? Value);

/// <summary>Counts of a doctor run.</summary>
/// <param name="Ok">Checks that passed.</param>
/// <param name="Warning">Checks with a warning.</param>
/// <param name="Failed">Checks that failed.</param>
internal sealed record DoctorSummary(int Ok, int Warning, int Failed);

/// <summary>Everything <c>batchpilot doctor</c> found.</summary>
internal sealed record DoctorReport
{
    /// <summary>True when no check failed (warnings allowed).</summary>
    public required bool Ok { get; init; }

    /// <summary>The process exit code: 0, or the code of the first failed check.</summary>
    public required int ExitCode { get; init; }

    /// <summary>Counts by status.</summary>
    public required DoctorSummary Summary { get; init; }

    /// <summary>Every check in the order run.</summary>
    public required IReadOnlyList<DoctorCheck> Checks { get; init; }

    /// <summary>Every setting with its source.</summary>
    public required IReadOnlyList<DoctorSetting> Settings { get; init; }
}
