namespace BatchPilot.Emulator;

/// <summary>Settings of one <see cref="EmulatorServer"/>.</summary>
public sealed class EmulatorOptions
{
    /// <summary>Address(es) to listen on, separated by <c>;</c>. Port 0 picks a free port.</summary>
    public string Urls { get; set; } = "http://127.0.0.1:0";

    /// <summary>Time from creation to completion of each batch. Zero: a batch is complete as soon as it is read back.</summary>
    public TimeSpan BatchDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Where files and batches are kept. Null: a temporary folder deleted on dispose; set: state survives restarts.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>The clock used for batch progress, timestamps and rate-limit windows.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Faults injected from the start; swappable later through <see cref="EmulatorServer.Faults"/>.</summary>
    public FaultScenario Faults { get; set; } = FaultScenario.None;

    /// <summary>Latency added to every synchronous endpoint (chat completions, responses, messages), in milliseconds.</summary>
    public int LatencyMs { get; set; }

    /// <summary>Requests per minute allowed on the synchronous endpoints, enforced per second at limit/60. Null: unlimited.</summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>
    /// Tokens per minute allowed on the synchronous endpoints, enforced per second at limit/60. OpenAI-style endpoints
    /// count input tokens plus the requested maximum output (or the answer's length when none is requested); Anthropic
    /// counts input tokens only (its ITPM). Null: unlimited.
    /// </summary>
    public int? TokensPerMinute { get; set; }

    /// <summary>Anthropic output tokens per minute (OTPM), counted from each request's <c>max_tokens</c>. Null: unlimited.</summary>
    public int? OutputTokensPerMinute { get; set; }

    /// <summary>Null: any key is accepted. Set: any other key gets the provider's 401 body.</summary>
    public string? RequiredApiKey { get; set; }

    /// <summary>The server refuses to bind a non-loopback address unless this is true.</summary>
    public bool AllowNonLoopback { get; set; }
}
