using Microsoft.Extensions.Logging;

namespace BatchPilot.Web.Hosting;

/// <summary>The dashboard's log messages. Prompts, answers and API keys are never logged.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "Started", Level = LogLevel.Information, Message = "Dashboard listening on {Address} (access token {TokenRequired})")]
    public static partial void Started(ILogger logger, Uri address, bool tokenRequired);

    [LoggerMessage(EventId = 2, EventName = "ActionFailed", Level = LogLevel.Warning, Message = "{Action} on job {JobId} failed: {Reason}")]
    public static partial void ActionFailed(ILogger logger, string action, string jobId, string reason);

    [LoggerMessage(EventId = 3, EventName = "BackgroundFailed", Level = LogLevel.Warning, Message = "Background step on job {JobId} failed: {Reason}")]
    public static partial void BackgroundFailed(ILogger logger, string jobId, string reason);

    [LoggerMessage(EventId = 4, EventName = "Refused", Level = LogLevel.Information, Message = "Refused {Method} {Path}: {Reason}")]
    public static partial void Refused(ILogger logger, string method, string path, string reason);

    [LoggerMessage(EventId = 5, EventName = "EngineEvent", Level = LogLevel.Information, Message = "Job {JobId}: {Message}")]
    public static partial void EngineEvent(ILogger logger, string jobId, string message);

    [LoggerMessage(EventId = 6, EventName = "IndexFailed", Level = LogLevel.Warning, Message = "Reading the job list failed: {Reason}")]
    public static partial void IndexFailed(ILogger logger, string reason);
}
