using BatchPilot.Emulator;

namespace BatchPilot.Testing;

/// <summary>An emulator on 127.0.0.1 with a random port, for one test.</summary>
public sealed class EmulatorHost : IAsyncDisposable
{
    private EmulatorHost(EmulatorServer server) => Server = server;

    /// <summary>The server.</summary>
    public EmulatorServer Server { get; }

    /// <summary>OpenAI base URL (…/v1).</summary>
    public string OpenAIBaseUrl => new Uri(Server.BaseAddress, "v1").ToString();

    /// <summary>Anthropic base URL.</summary>
    public string AnthropicBaseUrl => Server.BaseAddress.ToString().TrimEnd('/');

    /// <summary>Starts an emulator whose batches complete after <paramref name="batchSeconds"/>.</summary>
    public static async Task<EmulatorHost> StartAsync(double batchSeconds = 0, FaultScenario? faults = null, string? dataDirectory = null)
    {
        var server = await EmulatorServer.StartAsync(new EmulatorOptions
        {
            Urls = "http://127.0.0.1:0",
            BatchDuration = TimeSpan.FromSeconds(batchSeconds),
            Faults = faults ?? FaultScenario.None,
            DataDirectory = dataDirectory,
        }).ConfigureAwait(false);
        return new EmulatorHost(server);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
