using System.Globalization;
using System.Text;

namespace BatchPilot.Web.Pages;

/// <summary>Charts drawn as inline SVG on the server: no script, no library, nothing fetched.</summary>
internal static class Charts
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static string F(double v) => v.ToString("0.##", Inv);

    /// <summary>Horizontal bars (label, value), e.g. cost by model.</summary>
    public static string Bars(string title, IReadOnlyList<(string Label, decimal Value)> data, Func<decimal, string> format, string testId)
    {
        const int width = 420, row = 24, labelWidth = 150, valueWidth = 80;
        var height = Math.Max(1, data.Count) * row + 8;
        var max = data.Count == 0 ? 0 : data.Max(d => d.Value);
        var sb = new StringBuilder();
        sb.Append($"<figure class=\"chart\" data-testid=\"{Html.E(testId)}\"><figcaption>{Html.E(title)}</figcaption>");
        if (data.Count == 0 || max <= 0)
        {
            return sb.Append("<p class=\"muted\">Nothing to show yet.</p></figure>").ToString();
        }

        sb.Append($"<svg viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{Html.E(title)}\" class=\"svg-chart\">");
        for (var i = 0; i < data.Count; i++)
        {
            var (label, value) = data[i];
            var y = 4 + (i * row);
            var w = (double)(value / max) * (width - labelWidth - valueWidth);
            sb.Append($"<text x=\"{labelWidth - 6}\" y=\"{y + 15}\" text-anchor=\"end\" class=\"lbl\">{Html.E(Html.Truncate(label, 22))}</text>");
            sb.Append($"<rect x=\"{labelWidth}\" y=\"{y + 3}\" width=\"{F(Math.Max(1, w))}\" height=\"{row - 8}\" rx=\"3\" class=\"bar\"><title>{Html.E(label)}: {Html.E(format(value))}</title></rect>");
            sb.Append($"<text x=\"{F(labelWidth + Math.Max(1, w) + 6)}\" y=\"{y + 15}\" class=\"val\">{Html.E(format(value))}</text>");
        }

        return sb.Append("</svg></figure>").ToString();
    }

    /// <summary>Vertical columns over days.</summary>
    public static string Columns(string title, IReadOnlyList<(string Label, decimal Value)> data, Func<decimal, string> format, string testId)
    {
        const int width = 420, height = 150, bottom = 20, top = 14;
        var max = data.Count == 0 ? 0 : data.Max(d => d.Value);
        var sb = new StringBuilder();
        sb.Append($"<figure class=\"chart\" data-testid=\"{Html.E(testId)}\"><figcaption>{Html.E(title)}</figcaption>");
        if (data.Count == 0 || max <= 0)
        {
            return sb.Append("<p class=\"muted\">Nothing to show yet.</p></figure>").ToString();
        }

        var step = (double)width / data.Count;
        sb.Append($"<svg viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{Html.E(title)}\" class=\"svg-chart\">");
        sb.Append($"<line x1=\"0\" y1=\"{height - bottom}\" x2=\"{width}\" y2=\"{height - bottom}\" class=\"axis\"/>");
        for (var i = 0; i < data.Count; i++)
        {
            var (label, value) = data[i];
            var h = (double)(value / max) * (height - bottom - top);
            var x = i * step;
            sb.Append($"<rect x=\"{F(x + 1)}\" y=\"{F(height - bottom - h)}\" width=\"{F(Math.Max(1, step - 2))}\" height=\"{F(h)}\" class=\"bar\"><title>{Html.E(label)}: {Html.E(format(value))}</title></rect>");
            if (i % Math.Max(1, data.Count / 6) == 0 || i == data.Count - 1)
            {
                // The first and last labels are anchored inside the chart, so they are not cut at its edges.
                var (lx, anchor) = i == 0 ? (x, "start") : i == data.Count - 1 ? (x + step, "end") : (x + (step / 2), "middle");
                sb.Append($"<text x=\"{F(lx)}\" y=\"{height - 5}\" text-anchor=\"{anchor}\" class=\"lbl\">{Html.E(label)}</text>");
            }
        }

        sb.Append($"<text x=\"2\" y=\"10\" class=\"val\">max {Html.E(format(max))}</text>");
        return sb.Append("</svg></figure>").ToString();
    }

    /// <summary>A horizontal stacked bar of parts (status breakdown), with a legend.</summary>
    public static string Stack(string title, IReadOnlyList<(string Label, long Value, string Css)> parts, string testId)
    {
        const int width = 420, height = 26;
        var total = parts.Sum(p => p.Value);
        var sb = new StringBuilder();
        sb.Append($"<figure class=\"chart\" data-testid=\"{Html.E(testId)}\"><figcaption>{Html.E(title)}</figcaption>");
        if (total == 0)
        {
            return sb.Append("<p class=\"muted\">No items.</p></figure>").ToString();
        }

        sb.Append($"<svg viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{Html.E(title)}\" class=\"svg-chart\">");
        double x = 0;
        foreach (var (label, value, css) in parts)
        {
            if (value == 0)
            {
                continue;
            }

            var w = (double)value / total * width;
            sb.Append($"<rect x=\"{F(x)}\" y=\"0\" width=\"{F(w)}\" height=\"{height}\" class=\"seg {Html.E(css)}\"><title>{Html.E(label)}: {Html.N(value)}</title></rect>");
            x += w;
        }

        sb.Append("</svg><ul class=\"legend\">");
        foreach (var (label, value, css) in parts)
        {
            sb.Append($"<li><i class=\"sw seg {Html.E(css)}\"></i>{Html.E(label)} <b>{Html.N(value)}</b></li>");
        }

        return sb.Append("</ul></figure>").ToString();
    }

    /// <summary>Step lines over time (cumulative counts), e.g. requests submitted and collected.</summary>
    public static string Lines(string title, DateTimeOffset start, DateTimeOffset end, long max, IReadOnlyList<(string Label, string Css, IReadOnlyList<(DateTimeOffset At, long Value)> Points)> series, string testId)
    {
        const int width = 420, height = 150, left = 36, bottom = 20, top = 8;
        var sb = new StringBuilder();
        sb.Append($"<figure class=\"chart\" data-testid=\"{Html.E(testId)}\"><figcaption>{Html.E(title)}</figcaption>");
        if (max <= 0 || series.All(s => s.Points.Count == 0))
        {
            return sb.Append("<p class=\"muted\">Nothing sent yet.</p></figure>").ToString();
        }

        var span = Math.Max(1, (end - start).TotalSeconds);
        double X(DateTimeOffset t) => left + (Math.Clamp((t - start).TotalSeconds, 0, span) / span * (width - left - 4));
        double Y(long v) => height - bottom - ((double)Math.Min(v, max) / max * (height - bottom - top));
        sb.Append($"<svg viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{Html.E(title)}\" class=\"svg-chart\">");
        sb.Append($"<line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width}\" y2=\"{height - bottom}\" class=\"axis\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" class=\"axis\"/>");
        sb.Append($"<text x=\"{left - 4}\" y=\"{top + 8}\" text-anchor=\"end\" class=\"lbl\">{Html.E(Html.N(max))}</text><text x=\"{left - 4}\" y=\"{height - bottom}\" text-anchor=\"end\" class=\"lbl\">0</text>");
        sb.Append($"<text x=\"{left}\" y=\"{height - 5}\" class=\"lbl\">{Html.E(start.UtcDateTime.ToString("HH:mm:ss", Inv))}</text><text x=\"{width - 2}\" y=\"{height - 5}\" text-anchor=\"end\" class=\"lbl\">{Html.E(end.UtcDateTime.ToString("HH:mm:ss", Inv))} UTC</text>");
        foreach (var (label, css, points) in series)
        {
            if (points.Count == 0)
            {
                continue;
            }

            var path = new StringBuilder();
            path.Append($"M{F(X(start))},{F(Y(0))}");
            long last = 0;
            foreach (var (at, value) in points)
            {
                path.Append($" L{F(X(at))},{F(Y(last))} L{F(X(at))},{F(Y(value))}");
                last = value;
            }

            path.Append($" L{F(X(end))},{F(Y(last))}");
            sb.Append($"<path d=\"{path}\" class=\"line {Html.E(css)}\"><title>{Html.E(label)}</title></path>");
        }

        sb.Append("</svg><ul class=\"legend\">");
        foreach (var (label, css, points) in series)
        {
            sb.Append($"<li><i class=\"sw line-sw {Html.E(css)}\"></i>{Html.E(label)} <b>{Html.N(points.Count == 0 ? 0 : points[^1].Value)}</b></li>");
        }

        return sb.Append("</ul></figure>").ToString();
    }
}
