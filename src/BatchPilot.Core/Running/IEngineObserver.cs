namespace BatchPilot.Running;

/// <summary>Receives what the engine does, for display. Implementations must be cheap and thread-safe.</summary>
public interface IEngineObserver
{
    /// <summary>A notable event, as a sentence (batch submitted, batch ended, anomalies).</summary>
    void Info(string message);

    /// <summary>Something the user should know about (unknown result lines, retries, reconciliations).</summary>
    void Warn(string message);
}

/// <summary>An observer that ignores everything.</summary>
public sealed class NullObserver : IEngineObserver
{
    /// <summary>The instance.</summary>
    public static readonly NullObserver Instance = new();

    /// <inheritdoc/>
    public void Info(string message)
    {
    }

    /// <inheritdoc/>
    public void Warn(string message)
    {
    }
}
