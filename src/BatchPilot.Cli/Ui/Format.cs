using System.Globalization;

namespace BatchPilot.Cli.Ui;

/// <summary>Formatting helpers for human output.</summary>
internal static class Format
{
    public static string Money(decimal? usd) => usd switch
    {
        null => "unknown",
        > 0 and < 0.0001m => "$" + usd.Value.ToString("0.000000", CultureInfo.InvariantCulture),
        > 0 and < 0.01m => "$" + usd.Value.ToString("0.0000", CultureInfo.InvariantCulture),
        _ => "$" + usd.Value.ToString("0.00", CultureInfo.InvariantCulture),
    };

    public static string Number(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Duration(TimeSpan t)
    {
        if (t < TimeSpan.Zero)
        {
            t = TimeSpan.Zero;
        }

        if (t.TotalSeconds < 60)
        {
            return t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
        }

        if (t.TotalHours < 1)
        {
            return $"{(int)t.TotalMinutes} min {t.Seconds:00} s";
        }

        return $"{(int)t.TotalHours} h {t.Minutes:00} min";
    }

    public static string Percent(long done, long total) => total == 0 ? "0%" : ((double)done / total).ToString("0%", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset? t) => t is null ? "-" : t.Value.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Eta(DateTimeOffset? since, long done, long total, DateTimeOffset now)
    {
        if (since is null || done <= 0 || done >= total)
        {
            return done >= total && total > 0 ? "done" : "-";
        }

        var elapsed = now - since.Value;
        var remaining = TimeSpan.FromTicks((long)(elapsed.Ticks * ((double)(total - done) / done)));
        return Duration(remaining);
    }
}
