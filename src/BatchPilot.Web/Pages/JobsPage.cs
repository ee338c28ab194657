using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Web.Data;
using BatchPilot.Web.Hosting;
using static BatchPilot.Web.Pages.Html;

namespace BatchPilot.Web.Pages;

/// <summary>The jobs page (the seeds' "Historique"): stats, charts, filters, the sortable paged table, "collect all".</summary>
internal static class JobsPage
{
    /// <summary>The whole page, as a builder in small chunks (see <see cref="Html.Layout(string, string, Action{StringBuilder}, string, ValueTuple{string, bool}?, int)"/>).</summary>
    public static StringBuilder Render(DashboardState state, JobQuery q, (string, bool)? flash) =>
        Layout("Jobs", "jobs", body =>
        {
            body.Append("<div class=\"page-head\"><h1>Jobs</h1><div class=\"actions\">");
            body.Append("<a class=\"btn primary\" href=\"/new\" data-testid=\"new-job\">New job</a>");
            body.Append(PostButton("/collect-all", "Collect all finished batches", state.Csrf, "btn", "collect-all", title: "Fetch the results of every ended batch of every job (\"Traiter les batches terminés\")"));
            body.Append("</div></div>");
            body.Append(Filters(state, q));
            body.Append("<div id=\"jobs-live\" data-live-region>");
            Live(state, q, body);
            body.Append("</div>");
        }, state.Csrf, flash, state.Options.LiveRefreshMilliseconds);

    /// <summary>The part that refreshes itself, appended to <paramref name="sb"/>.</summary>
    public static StringBuilder Live(DashboardState state, JobQuery q, StringBuilder sb)
    {
        var page = state.Index.Query(q);
        state.Index.WantEstimates(page.Jobs);
        var snap = state.Index.Current;
        var now = state.Time.GetUtcNow();
        var active = snap.Active;
        var items = snap.Items;
        var cost = snap.CostUsd;
        sb.Append("<section class=\"cards\">");
        sb.Append(Card("Jobs", N(snap.Jobs.Length), "jobs-count"));
        sb.Append(Card("Running", N(active), "jobs-active"));
        sb.Append(Card("Items", N(items), "items-count"));
        sb.Append(Card("Cost so far", Money(cost), "total-cost"));
        sb.Append("</section>");
        sb.Append("<section class=\"charts\">");
        var today = DateOnly.FromDateTime(now.UtcDateTime).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        sb.Append(snap.Memo("chart-cost-model", _ => Charts.Bars("Cost by model", state.Index.CostByModel(), v => Money(v), "chart-cost-model")));
        sb.Append(snap.Memo("chart-cost-day:" + today, _ => Charts.Columns("Cost by day (job creation, last 30 days)", state.Index.CostByDay(30), v => Money(v), "chart-cost-day")));
        sb.Append("</section>");

        sb.Append("<div class=\"table-wrap\"><table class=\"grid\" data-testid=\"jobs-table\"><thead><tr>");
        sb.Append(Th(q, "name", "Job")).Append(Th(q, "model", "Provider / model")).Append("<th>Mode</th>").Append(Th(q, "status", "Status"))
          .Append(Th(q, "progress", "Progress")).Append("<th>ETA</th>").Append(Th(q, "total", "OK / failed / pending")).Append(Th(q, "cost", "Cost (est. / actual)"))
          .Append(Th(q, "created", "Created")).Append(Th(q, "updated", "Updated"));
        sb.Append("</tr></thead><tbody>");
        if (page.Jobs.Count == 0)
        {
            sb.Append("<tr><td colspan=\"10\" class=\"empty\">").Append(snap.Jobs.Length == 0
                ? "No jobs yet. Start one with <a href=\"/new\">New job</a> or <code>batchpilot run</code>."
                : "No job matches these filters.").Append("</td></tr>");
        }

        foreach (var j in page.Jobs)
        {
            var estimate = state.Index.EstimateOf(j.Id);
            if (j.IsFinal || j.ActiveBatches == 0)
            {
                // Nothing in the row moves with the clock: it is rendered once per summary (a new summary replaces a changed job).
                var cached = RowCache.GetValue(j, _ => new StrongBox<RenderedRow?>());
                if (Volatile.Read(ref cached.Value) is not { } hit || !ReferenceEquals(hit.Estimate, estimate))
                {
                    hit = new RenderedRow(estimate, Row(j, estimate, now));
                    Volatile.Write(ref cached.Value, hit);
                }

                sb.Append(hit.Html);
            }
            else
            {
                sb.Append(Row(j, estimate, now));
            }
        }

        sb.Append("</tbody></table></div>");
        sb.Append(Pager(q, page));
        return sb;
    }

    /// <summary>Rendered rows by job summary (summaries are immutable: a changed job gets a new one, and its old row goes with it).</summary>
    private static readonly ConditionalWeakTable<JobSummary, StrongBox<RenderedRow?>> RowCache = new();

    private sealed record RenderedRow(CostEstimate? Estimate, string Html);

    private static string Row(JobSummary j, CostEstimate? estimate, DateTimeOffset now)
    {
        var c = j.Counts;
        var sb = new StringBuilder(900);
        sb.Append("<tr data-job=\"").Append(E(j.Id)).Append("\">");
        sb.Append("<td><a href=\"/jobs/").Append(Url(j.Id)).Append("\" class=\"job-link\">").Append(E(j.Job.Name)).Append("</a><div class=\"muted mono\">").Append(E(j.Id)).Append("</div>");
        if (j.Group is { } g)
        {
            sb.Append("<div class=\"muted\"><a class=\"group-link\" href=\"/?q=").Append(Url(g.Id)).Append("\" title=\"").Append(E(g.Name)).Append("\" data-testid=\"group-link\">")
              .Append(E(g.Id)).Append("</a> · ").Append(E(g.Label)).Append("</div>");
        }

        if (j.Job.Spec.Kind == Jobs.JobKind.Raw)
        {
            sb.Append("<div class=\"muted\">batch file</div>");
        }

        sb.Append("</td>");
        sb.Append("<td>").Append(E(j.Job.Spec.Provider)).Append("<div class=\"muted\">").Append(E(j.Job.Spec.Model)).Append("</div></td>");
        sb.Append("<td>").Append(E(j.Job.Spec.Mode.ToString().ToLowerInvariant())).Append("</td>");
        sb.Append("<td>").Append(Badge(StatusLabel(j.Job.Status), StatusClass(j.Job.Status.ToString()))).Append("</td>");
        sb.Append("<td class=\"w-progress\">").Append(Progress(j.Progress, $"{N(c.Ended)}/{N(j.Total)} ({Pct(j.Progress)})")).Append("</td>");
        sb.Append("<td>").Append(j.IsFinal ? "–" : Duration(j.Eta(now))).Append("</td>");
        sb.Append("<td class=\"num\"><span class=\"ok-t\">").Append(N(c.Succeeded)).Append("</span>").Append(c.FromCache > 0 ? $" <span class=\"muted\" title=\"answered from the cache\">({N(c.FromCache)} cached)</span>" : string.Empty).Append(" / <span class=\"bad-t\">").Append(N(c.NotSucceeded)).Append("</span> / ").Append(N(c.Pending + c.InBatch)).Append("</td>");
        sb.Append("<td class=\"num\">").Append(j.Job.Spec.Kind == Jobs.JobKind.Raw ? "–" : estimate is null ? "…" : Money(JobSummary.EstimatedCost(j.Job, estimate))).Append(" / ").Append(Money(j.CostUsd)).Append("</td>");
        sb.Append("<td>").Append(TimeTag(j.Job.CreatedAt)).Append("</td><td>").Append(TimeTag(j.Job.UpdatedAt)).Append("</td></tr>");
        return sb.ToString();
    }

    private static string Card(string label, string value, string testId) =>
        $"<div class=\"card\"><div class=\"card-label\">{E(label)}</div><div class=\"card-value\" data-testid=\"{E(testId)}\">{E(value)}</div></div>";

    private static string Filters(DashboardState state, JobQuery q)
    {
        var models = state.Index.Models();
        var sb = new StringBuilder("<form class=\"filters\" method=\"get\" action=\"/\" role=\"search\">");
        sb.Append($"<label>Search <input type=\"search\" name=\"q\" value=\"{E(q.Search)}\" placeholder=\"name, id or grp-…\" data-testid=\"search\"></label>");
        sb.Append("<label>Status <select name=\"status\"><option value=\"\">any</option>");
        foreach (var (v, l) in new[] { ("active", "unfinished") }.Concat(Enum.GetValues<JobStatus>().Select(s => (s.ToString(), StatusLabel(s)))))
        {
            sb.Append($"<option value=\"{E(v)}\"{(string.Equals(q.Status, v, StringComparison.OrdinalIgnoreCase) ? " selected" : string.Empty)}>{E(l)}</option>");
        }

        sb.Append("</select></label><label>Provider <select name=\"provider\"><option value=\"\">any</option>");
        foreach (var p in state.Index.Providers())
        {
            sb.Append($"<option{(string.Equals(q.Provider, p, StringComparison.OrdinalIgnoreCase) ? " selected" : string.Empty)}>{E(p)}</option>");
        }

        sb.Append("</select></label><label>Model <select name=\"model\"><option value=\"\">any</option>");
        foreach (var m in models)
        {
            sb.Append($"<option{(string.Equals(q.Model, m, StringComparison.OrdinalIgnoreCase) ? " selected" : string.Empty)}>{E(m)}</option>");
        }

        sb.Append("</select></label>");
        sb.Append($"<label>From <input type=\"date\" name=\"from\" value=\"{E(q.From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))}\"></label>");
        sb.Append($"<label>To <input type=\"date\" name=\"to\" value=\"{E(q.To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))}\"></label>");
        sb.Append(Hidden("sort", q.Sort)).Append(Hidden("dir", q.Descending ? "desc" : "asc"));
        sb.Append("<button type=\"submit\" class=\"btn\">Filter</button> <a href=\"/\" class=\"btn link\">Clear</a></form>");
        return sb.ToString();
    }

    private static string Th(JobQuery q, string key, string label)
    {
        var current = q.Sort == key;
        var dir = current && q.Descending ? "asc" : "desc";
        var arrow = current ? (q.Descending ? " ▼" : " ▲") : string.Empty;
        var aria = current ? (q.Descending ? " aria-sort=\"descending\"" : " aria-sort=\"ascending\"") : string.Empty;
        return $"<th{aria}><a href=\"{E(Link(q with { Sort = key, Descending = dir == "desc", Page = 1 }))}\">{E(label)}{arrow}</a></th>";
    }

    public static string Link(JobQuery q)
    {
        var parts = new List<string>();
        void Add(string k, string? v)
        {
            if (!string.IsNullOrEmpty(v))
            {
                parts.Add(k + "=" + Url(v));
            }
        }

        Add("q", q.Search);
        Add("status", q.Status);
        Add("provider", q.Provider);
        Add("model", q.Model);
        Add("from", q.From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Add("to", q.To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Add("sort", q.Sort);
        Add("dir", q.Descending ? "desc" : "asc");
        if (q.Page > 1)
        {
            Add("page", q.Page.ToString(CultureInfo.InvariantCulture));
        }

        if (q.Size != 50)
        {
            Add("size", q.Size.ToString(CultureInfo.InvariantCulture));
        }

        return "/?" + string.Join('&', parts);
    }

    private static string Pager(JobQuery q, JobListPage page)
    {
        var sb = new StringBuilder("<nav class=\"pager\" aria-label=\"Pages\">");
        sb.Append($"<span class=\"muted\" data-testid=\"jobs-total\">{N(page.Total)} job(s) · page {N(page.Page)} of {N(page.Pages)}</span> ");
        if (page.Page > 1)
        {
            sb.Append($"<a class=\"btn\" href=\"{E(Link(q with { Page = 1 }))}\">« First</a> <a class=\"btn\" rel=\"prev\" href=\"{E(Link(q with { Page = page.Page - 1 }))}\">‹ Previous</a> ");
        }

        if (page.Page < page.Pages)
        {
            sb.Append($"<a class=\"btn\" rel=\"next\" href=\"{E(Link(q with { Page = page.Page + 1 }))}\">Next ›</a> <a class=\"btn\" href=\"{E(Link(q with { Page = page.Pages }))}\">Last »</a>");
        }

        return sb.Append("</nav>").ToString();
    }
}
