using System.Globalization;
using System.Net;
using System.Text;
using BatchPilot.Jobs;

namespace BatchPilot.Web.Pages;

/// <summary>HTML helpers: every value goes through <see cref="E"/>; formats are invariant.</summary>
internal static class Html
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>HTML-encodes text (attribute-safe).</summary>
    public static string E(string? text) => WebUtility.HtmlEncode(text ?? string.Empty);

    public static string Url(string? text) => Uri.EscapeDataString(text ?? string.Empty);

    public static string N(long n) => n.ToString("N0", Inv);

    public static string Pct(double fraction) => (fraction * 100).ToString(fraction is > 0 and < 0.1 ? "0.#" : "0", Inv) + " %";

    public static string Money(decimal? usd) => usd switch
    {
        null => "unknown",
        0 => "$0",
        < 0.01m => "$" + usd.Value.ToString("0.00####", Inv),
        < 100m => "$" + usd.Value.ToString("0.00##", Inv),
        _ => "$" + usd.Value.ToString("N2", Inv),
    };

    public static string Time(DateTimeOffset? t) => t is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv) + " UTC" : "–";

    public static string TimeTag(DateTimeOffset? t) => t is { } v
        ? $"<time datetime=\"{v.UtcDateTime.ToString("O", Inv)}\">{v.UtcDateTime.ToString("yyyy-MM-dd HH:mm", Inv)}</time>"
        : "–";

    public static string Duration(TimeSpan? d)
    {
        if (d is not { } v)
        {
            return "–";
        }

        if (v < TimeSpan.FromSeconds(1))
        {
            return "< 1 s";
        }

        if (v < TimeSpan.FromMinutes(1))
        {
            return ((int)v.TotalSeconds).ToString(Inv) + " s";
        }

        if (v < TimeSpan.FromHours(1))
        {
            return $"{(int)v.TotalMinutes} min {v.Seconds} s";
        }

        return v < TimeSpan.FromDays(1) ? $"{(int)v.TotalHours} h {v.Minutes} min" : $"{(int)v.TotalDays} d {v.Hours} h";
    }

    public static string StatusClass(string status) => status.ToLowerInvariant() switch
    {
        "completed" or "succeeded" or "collected" or "ended" => "ok",
        "completedwitherrors" or "expired" or "cancelled" or "cancelling" => "warn",
        "failed" or "rejected" => "bad",
        "running" or "inbatch" or "in_batch" or "submitted" or "submitting" or "in_progress" => "run",
        _ => "idle",
    };

    public static string StatusLabel(JobStatus s) => s switch
    {
        JobStatus.CompletedWithErrors => "Completed with errors",
        _ => s.ToString(),
    };

    public static string Badge(string text, string? cls = null) =>
        $"<span class=\"badge {cls ?? StatusClass(text.Replace(" ", string.Empty, StringComparison.Ordinal))}\">{E(text)}</span>";

    public static string Progress(double fraction, string label, string? testId = null) =>
        $"<div class=\"progress\"><progress max=\"1000\" value=\"{Math.Round(fraction * 1000).ToString(Inv)}\" aria-label=\"{E(label)}\"></progress>"
        + $"<span class=\"progress-label\"{(testId is null ? string.Empty : $" data-testid=\"{E(testId)}\"")}>{E(label)}</span></div>";

    /// <summary>An endpoint without user info or query (a key pasted into a URL never shows).</summary>
    public static string SafeEndpoint(string endpoint)
    {
        if (Uri.TryCreate(endpoint, UriKind.Absolute, out var u))
        {
            return new UriBuilder(u) { UserName = string.Empty, Password = string.Empty, Query = string.Empty, Fragment = string.Empty }.Uri.ToString().TrimEnd('/');
        }

        return endpoint;
    }

    public static string Truncate(string? text, int max) =>
        text is null ? string.Empty : text.Length <= max ? text : string.Concat(text.AsSpan(0, max), "…");

    /// <summary>Text that can be long: a short excerpt, the rest behind a details toggle.</summary>
    public static string LongText(string? text, int max = 160)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "<span class=\"muted\">–</span>";
        }

        if (text.Length <= max)
        {
            return $"<span class=\"text\">{E(text)}</span>";
        }

        return $"<details><summary>{E(Truncate(text, max))}</summary><div class=\"text full\">{E(text)}</div></details>";
    }

    public static string Hidden(string name, string value) => $"<input type=\"hidden\" name=\"{E(name)}\" value=\"{E(value)}\">";

    /// <summary>A POST button in its own form, with the anti-forgery field.</summary>
    public static string PostButton(string action, string label, string csrf, string cls = "btn", string? testId = null, string extraFields = "", string? title = null) =>
        $"<form method=\"post\" action=\"{E(action)}\" class=\"inline\">{Hidden(Hosting.AccessGuard.CsrfField, csrf)}{extraFields}"
        + $"<button type=\"submit\" class=\"{E(cls)}\"{(testId is null ? string.Empty : $" data-testid=\"{E(testId)}\"")}{(title is null ? string.Empty : $" title=\"{E(title)}\"")}>{E(label)}</button></form>";

    /// <summary>The page frame: header, navigation, flash message, body, the app's own script.</summary>
    public static string Layout(string title, string active, string body, string csrf, (string Text, bool Error)? flash = null, int liveMs = 0) =>
        Layout(title, active, sb => sb.Append(body), csrf, flash, liveMs).ToString();

    /// <summary>
    /// The page frame around a body written by <paramref name="body"/> into the same builder. The builder stays in small
    /// chunks (no initial capacity): a large page never becomes one large array, which would be a large-object-heap
    /// allocation and a full garbage collection sooner.
    /// </summary>
    public static StringBuilder Layout(string title, string active, Action<StringBuilder> body, string csrf, (string Text, bool Error)? flash = null, int liveMs = 0)
    {
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.Append("<meta name=\"csrf-token\" content=\"").Append(E(csrf)).Append("\">");
        sb.Append("<title>").Append(E(title)).Append(" · BatchPilot</title><link rel=\"stylesheet\" href=\"/static/app.css\"><link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\"></head>");
        sb.Append("<body").Append(liveMs > 0 ? $" data-live-ms=\"{liveMs.ToString(Inv)}\"" : string.Empty).Append('>');
        sb.Append("<header class=\"top\"><a class=\"brand\" href=\"/\"><img src=\"/static/favicon.svg\" alt=\"\" width=\"22\" height=\"22\"> BatchPilot</a><nav>");
        foreach (var (href, label, key) in new[] { ("/", "Jobs", "jobs"), ("/new", "New job", "new"), ("/api/docs", "API", "api") })
        {
            sb.Append("<a href=\"").Append(href).Append('"').Append(active == key ? " class=\"active\" aria-current=\"page\"" : string.Empty).Append('>').Append(label).Append("</a>");
        }

        sb.Append("</nav><span class=\"live-dot\" id=\"live-dot\" title=\"Live updates\"></span></header><main>");
        if (flash is { } f)
        {
            sb.Append("<div class=\"flash ").Append(f.Error ? "error" : "info").Append("\" role=\"").Append(f.Error ? "alert" : "status").Append("\" data-testid=\"flash\">").Append(E(f.Text)).Append("</div>");
        }

        body(sb);
        sb.Append("</main><footer>BatchPilot dashboard · every script and style served by this app · <a href=\"/api/openapi.json\">OpenAPI</a></footer>");
        sb.Append("<script src=\"/static/app.js\"></script></body></html>");
        return sb;
    }

    /// <summary>The UTF-8 bytes of a builder's text, encoded chunk by chunk (no string of the whole text is made).</summary>
    public static byte[] Utf8(StringBuilder sb)
    {
        ArgumentNullException.ThrowIfNull(sb);
        var encoder = Encoding.UTF8.GetEncoder();
        var length = 0;
        foreach (var chunk in sb.GetChunks())
        {
            length += encoder.GetByteCount(chunk.Span, flush: false);
        }

        length += encoder.GetByteCount(ReadOnlySpan<char>.Empty, flush: true);
        encoder.Reset();
        var bytes = new byte[length];
        var written = 0;
        foreach (var chunk in sb.GetChunks())
        {
            written += encoder.GetBytes(chunk.Span, bytes.AsSpan(written), flush: false);
        }

        written += encoder.GetBytes(ReadOnlySpan<char>.Empty, bytes.AsSpan(written), flush: true);
        return written == length ? bytes : bytes[..written];
    }
}
