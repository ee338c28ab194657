using System.Globalization;
using System.Text;

namespace BatchPilot.Emulator.Infrastructure;

internal static class TimeFormats
{
    /// <summary>Anthropic timestamps: RFC 3339, UTC, microseconds, e.g. <c>2024-09-24T18:37:24.100435Z</c>.</summary>
    public static string Rfc3339Micro(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Anthropic rate-limit reset: RFC 3339 in whole seconds, e.g. <c>2024-09-24T18:37:25Z</c>.</summary>
    public static string Rfc3339Seconds(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Go <c>time.Duration.String()</c> as OpenAI sends it: <c>1s</c>, <c>6m0s</c>, <c>12ms</c>, <c>2s81ms</c>, <c>0s</c>.</summary>
    public static string GoDuration(TimeSpan d)
    {
        var ms = (long)Math.Ceiling(Math.Max(0, d.TotalMilliseconds));
        if (ms == 0)
        {
            return "0s";
        }
        if (ms < 1000)
        {
            return ms.ToString(CultureInfo.InvariantCulture) + "ms";
        }
        var sb = new StringBuilder();
        var hours = ms / 3_600_000;
        var minutes = ms / 60_000 % 60;
        var seconds = ms / 1000 % 60;
        var millis = ms % 1000;
        if (hours > 0)
        {
            sb.Append(hours).Append('h');
        }
        if (hours > 0 || minutes > 0)
        {
            sb.Append(minutes).Append('m');
        }
        sb.Append(seconds).Append('s');
        if (millis > 0)
        {
            sb.Append(millis).Append("ms");
        }
        return sb.ToString();
    }
}
