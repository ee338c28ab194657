using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Planning;
using BatchPilot.Pricing;
using BatchPilot.Running;
using BatchPilot.Storage;
using BatchPilot.Web.Data;
using BatchPilot.Web.Hosting;
using static BatchPilot.Web.Pages.Html;

namespace BatchPilot.Web.Pages;

/// <summary>Everything a job page shows, read once per request.</summary>
internal sealed record JobView(JobRecord Job, JobCounts Counts, IReadOnlyList<BatchRecord> Batches, JobSummary Summary, CostEstimate? Estimate, IReadOnlyList<Activity> Activity, bool Busy)
{
    /// <summary>What counts against the job's budget and today's (read when a budget applies or a batch holds a reservation).</summary>
    public SpendSnapshot? Spend { get; init; }

    /// <summary>Why the job's next batch (or chunk of sync requests) is held back, while its items wait for more budget.</summary>
    public BudgetRefusal? BudgetStop { get; init; }

    /// <summary>The budget as the API shows it: null when no budget applies to the job.</summary>
    public Api.BudgetDto? BudgetView(decimal? dailyBudgetUsd) => Job.BudgetUsd is null && dailyBudgetUsd is null && Spend is null ? null
        : new Api.BudgetDto(Job.BudgetUsd, Job.BudgetUsd is not null && Spend is { } s ? Math.Round(s.Job.TotalUsd, 6) : null,
            Spend is { Job.ReservedUsd: > 0 } r ? Math.Round(r.Job.ReservedUsd, 6) : null, dailyBudgetUsd, BudgetStop is null ? null : JobPage.BudgetStopMessage(BudgetStop),
            BudgetStop is { Kind: BudgetKind.Job } held ? held.SuggestedBudgetUsd : null);

    /// <summary>
    /// The view of a job (by id, unique id prefix or name). A finished job nobody is acting on comes from the job index
    /// (nothing about it changes without its status or update time changing, which the index follows); any other is read
    /// from the store, so a job in progress shows its latest counts.
    /// </summary>
    /// <exception cref="JobNotFoundException">No such job.</exception>
    public static async Task<JobView> LoadAsync(DashboardState state, string idOrName, CancellationToken ct)
    {
        var busy = state.Runner.IsBusy(idOrName);
        JobSummary summary;
        if (state.Index.Find(idOrName) is { IsFinal: true, ActiveBatches: 0 } indexed && !busy && !state.Index.IsDirty(idOrName))
        {
            summary = indexed;
        }
        else
        {
            var job = await state.Options.Store.GetJobAsync(idOrName, ct) ?? throw new JobNotFoundException(idOrName);
            var counts = await state.Options.Store.GetCountsAsync(job.Id, ct);
            summary = JobSummary.Of(job, counts, await state.Options.Store.ListBatchesAsync(job.Id, ct), state.Index.Prices) with { Group = state.Index.Find(job.Id)?.Group };
            busy = state.Runner.IsBusy(job.Id);
        }

        var id = summary.Id;
        var estimate = state.Index.EstimateOf(id);
        if (estimate is null && summary.Job.Status != JobStatus.Preparing && summary.Counts.Total <= 20_000)
        {
            estimate = await JobIndex.EstimateAsync(state.Options.Store, summary.Job, state.Index.Prices, ct);
            if (estimate is not null)
            {
                state.Index.SetEstimate(id, estimate);
            }
        }
        else if (estimate is null)
        {
            state.Index.WantEstimates([summary]);
        }

        // As 'status': the spend is read when a budget applies, or a batch in flight holds a reservation.
        SpendSnapshot? spend = null;
        var daily = state.Options.Costs.DailyBudgetUsd;
        if (summary.Job.BudgetUsd is not null || daily is not null || summary.BatchList.Any(b => b.ReservedUsd is not null && JobSteps.HasInFlight([b])))
        {
            spend = await state.Options.Store.GetSpendAsync(id, JobBudgets.DayStart(state.Time.GetUtcNow()), ct);
        }

        var stop = state.Runner.BudgetStop(id) is { } held && summary.Counts.Pending + summary.Counts.InBatch > 0 && !summary.IsFinal ? held : null;
        return new JobView(summary.Job, summary.Counts, summary.BatchList, summary, estimate, state.Runner.ActivityOf(id), busy) { Spend = spend, BudgetStop = stop };
    }
}

/// <summary>A job's page: summary, live progress, batches, charts, diagnosis, items, and the buttons.</summary>
internal static class JobPage
{
    private static readonly ConcurrentDictionary<string, (string Key, DiagnosisReport Report)> DiagnosisCache = new(StringComparer.Ordinal);

    public static async Task<string> RenderAsync(DashboardState state, JobView v, ItemStatus? filter, long after, (string, bool)? flash, CancellationToken ct)
    {
        var job = v.Job;
        var id = Url(job.Id);
        var sb = new StringBuilder();
        sb.Append("<p class=\"crumbs\"><a href=\"/\">Jobs</a> › ").Append(E(job.Id)).Append("</p>");
        sb.Append("<div class=\"page-head\"><h1 data-testid=\"job-name\">").Append(E(job.Name)).Append("</h1><div class=\"actions\">");
        sb.Append(PostButton($"/jobs/{id}/refresh", "Refresh status", state.Csrf, "btn", "refresh", title: "Ask the provider for fresh statuses and collect ended batches (\"Actualiser\" / \"Vérifier\")"));
        sb.Append(PostButton($"/jobs/{id}/collect", "Collect finished batches", state.Csrf, "btn", "collect", title: "Fetch the results of every ended batch (\"Traiter les batches terminés\")"));
        sb.Append(PostButton($"/jobs/{id}/resume", "Resume", state.Csrf, "btn", "resume",
            "<label class=\"check\" title=\"Also resend items that failed for a reason a retry cannot fix (invalid request, context too long)\"><input type=\"checkbox\" name=\"include_invalid\" value=\"true\"> also items a retry cannot fix</label>"
            + "<label class=\"check\" title=\"Send every request, even one answered before (--no-cache)\"><input type=\"checkbox\" name=\"no_cache\" value=\"true\" data-testid=\"resume-no-cache\"> no cache</label>",
            "Send the failed, expired and cancelled items again as a new batch (\"Reprendre\")"));
        sb.Append(PostButton($"/jobs/{id}/cancel", "Cancel", state.Csrf, "btn warn", "cancel", title: "Cancel unsent items and ask the provider to stop batches in flight"));
        sb.Append($"<a class=\"btn danger\" href=\"/jobs/{id}/delete\" data-testid=\"delete\">Delete…</a>");
        sb.Append("</div></div>");
        sb.Append("<div class=\"exports\" data-testid=\"exports\">Download: ");
        foreach (var f in DashboardActions.ExportFormats)
        {
            sb.Append($"<a class=\"btn small\" href=\"/jobs/{id}/export?format={f}\" download data-testid=\"export-{f}\">{f.ToUpperInvariant()}</a> ");
        }

        if (v.Summary.Group is { } group)
        {
            sb.Append("<span class=\"group-exports\">· the comparison ").Append(E(group.Id)).Append(", side by side: ");
            foreach (var f in new[] { "csv", "jsonl", "md", "docx" })
            {
                sb.Append($"<a class=\"btn small\" href=\"/groups/{Url(group.Id)}/export?format={f}\" download data-testid=\"group-export-{f}\">{f.ToUpperInvariant()}</a> ");
            }

            sb.Append("</span>");
        }

        if (job.Spec.Kind == JobKind.Raw)
        {
            sb.Append($"<a class=\"btn small\" href=\"/jobs/{id}/export?format=provider\" download data-testid=\"export-provider\" title=\"The provider's own output file again, one line per request in input order (export --format provider); once every request has its result\">Provider output file</a> ");
        }

        sb.Append("</div>");
        sb.Append(BudgetForm(state, v));
        sb.Append("<div id=\"job-live\" data-live-region>").Append(await LiveAsync(state, v, ct)).Append("</div>");
        sb.Append("<section><h2>Items</h2><div id=\"items-live\" data-live-region>").Append(await ItemsAsync(state, v, filter, after, ct)).Append("</div></section>");
        return Layout(job.Name, "jobs", sb.ToString(), state.Csrf, flash, state.Options.LiveRefreshMilliseconds);
    }

    public static async Task<string> LiveAsync(DashboardState state, JobView v, CancellationToken ct)
    {
        var job = v.Job;
        var c = v.Counts;
        var s = v.Summary;
        var now = state.Time.GetUtcNow();
        var sb = new StringBuilder();
        sb.Append("<section class=\"summary\">");
        sb.Append("<div class=\"status-line\">").Append(Badge(StatusLabel(job.Status), StatusClass(job.Status.ToString())).Replace("class=\"badge", "data-testid=\"job-status\" class=\"badge", StringComparison.Ordinal));
        if (v.Busy)
        {
            sb.Append(" <span class=\"muted spinner\">working…</span>");
        }

        sb.Append("</div>");
        sb.Append(Progress(s.Progress, $"{N(c.Ended)}/{N(s.Total)} ({Pct(s.Progress)})", "job-progress"));
        sb.Append("<dl class=\"facts\">");
        Fact(sb, "Provider / model", $"{job.Spec.Provider} / {job.Spec.Model}");
        Fact(sb, "Mode", job.Spec.Mode.ToString().ToLowerInvariant(), "job-mode");
        Fact(sb, "Endpoint", SafeEndpoint(job.Spec.Endpoint));
        if (job.Spec.Kind == JobKind.Raw)
        {
            Fact(sb, "Source", "batch file (submit-file): each request sent as written", "job-kind");
        }

        if (s.Group is { } group)
        {
            sb.Append("<div><dt>Comparison group</dt><dd data-testid=\"job-group\"><a href=\"/?q=").Append(Url(group.Id)).Append("\">").Append(E(group.Name)).Append(" (").Append(E(group.Id)).Append(")</a>, variant ")
              .Append(E(group.Label));
            foreach (var other in state.Index.Current.Jobs.Where(o => o.Group?.Id == group.Id && o.Id != job.Id).OrderBy(o => o.Job.CreatedAt))
            {
                sb.Append(" · <a href=\"/jobs/").Append(Url(other.Id)).Append("\" data-testid=\"variant-link\">").Append(E(other.Group!.Label)).Append("</a>");
            }

            sb.Append("</dd></div>");
        }

        Fact(sb, "Succeeded", N(c.Succeeded), "count-succeeded");
        Fact(sb, "Failed / expired / cancelled", $"{N(c.Failed)} / {N(c.Expired)} / {N(c.Cancelled)}", "count-failed");
        Fact(sb, "Pending / in a batch", $"{N(c.Pending)} / {N(c.InBatch)}", "count-pending");
        Fact(sb, "ETA", s.IsFinal ? "–" : Duration(s.Eta(now)));
        Fact(sb, "Tokens in / out", $"{N(c.InputTokens)} / {N(c.OutputTokens)}");
        Fact(sb, "Estimated cost", job.Spec.Kind == JobKind.Raw ? "– (a batch file's requests are not estimated)" : v.Estimate is null ? "…" : $"{Money(v.Estimate.BatchCostUsd)} (batch) · {Money(v.Estimate.SyncCostUsd)} (sync)", "cost-estimated");
        Fact(sb, "Actual cost", Money(s.CostUsd), "cost-actual");
        if (c.FromCache > 0)
        {
            Fact(sb, "Answered from the cache", $"{N(c.FromCache)} (nothing sent, no cost)", "count-cached");
        }

        if (BudgetFact(v, state.Options.Costs.DailyBudgetUsd) is { } budget)
        {
            Fact(sb, "Budget", budget, "budget");
        }

        Fact(sb, "Created", Time(job.CreatedAt));
        Fact(sb, "Updated", Time(job.UpdatedAt));
        Fact(sb, "Completed", Time(job.CompletedAt));
        sb.Append("</dl>");
        if (v.Estimate is not null)
        {
            sb.Append("<p class=\"note\">").Append(E(v.Estimate.Basis)).Append("</p>");
        }

        if (v.BudgetStop is { } stop)
        {
            sb.Append("<p class=\"warn-t budget-stop\" role=\"status\" data-testid=\"budget-stop\">").Append(E(BudgetStopMessage(stop))).Append("</p>");
        }

        sb.Append("</section>");

        sb.Append("<section class=\"charts\">");
        sb.Append(Charts.Stack("Items by status", [
            ("Succeeded", c.Succeeded, "s-ok"), ("Failed", c.Failed, "s-bad"), ("Expired", c.Expired, "s-warn"), ("Cancelled", c.Cancelled, "s-cancel"),
            ("In a batch", c.InBatch, "s-run"), ("Pending", c.Pending, "s-idle"),
        ], "chart-status"));
        sb.Append(ProgressChart(v, now));
        sb.Append("</section>");

        sb.Append("<section><h2>Batches</h2><div class=\"table-wrap\"><table class=\"grid\" data-testid=\"batches-table\"><thead><tr><th>#</th><th>Provider batch</th><th>Our state</th><th>Provider status</th><th>Requests</th><th>Done / failed</th><th>Attempt</th><th>Submitted</th><th>Ended</th><th>Collected</th></tr></thead><tbody>");
        if (v.Batches.Count == 0)
        {
            sb.Append("<tr><td colspan=\"10\" class=\"empty\">No batch yet.</td></tr>");
        }

        foreach (var b in v.Batches)
        {
            var dto = Api.BatchDto.Of(b);
            sb.Append("<tr><td>").Append(b.Number).Append("</td><td class=\"mono\">").Append(E(b.ProviderBatchId ?? "–")).Append("</td><td>").Append(Badge(b.State.ToString()))
              .Append("</td><td>").Append(E(b.ProviderStatus ?? "–")).Append("</td><td class=\"num\">").Append(N(b.RequestCount)).Append("</td><td class=\"num\">")
              .Append(N(dto.Done)).Append(" / ").Append(N(dto.Failed)).Append("</td><td class=\"num\">").Append(dto.Attempt).Append("</td><td>").Append(TimeTag(b.SubmittedAt))
              .Append("</td><td>").Append(TimeTag(b.EndedAt)).Append("</td><td>").Append(TimeTag(b.CollectedAt)).Append("</td></tr>");
            if (b.Errors is not null)
            {
                sb.Append("<tr class=\"sub\"><td></td><td colspan=\"9\" class=\"bad-t\">").Append(E(Truncate(b.Errors, 600))).Append("</td></tr>");
            }
        }

        sb.Append("</tbody></table></div></section>");
        sb.Append(await DiagnosisAsync(state, v, now, ct));
        sb.Append("<section><h2>Activity</h2>");
        if (v.Activity.Count == 0)
        {
            sb.Append("<p class=\"muted\">Nothing done from this dashboard yet. The history below comes from the store.</p>");
        }
        else
        {
            sb.Append("<ul class=\"activity\" data-testid=\"activity\">");
            foreach (var a in v.Activity.Take(12))
            {
                sb.Append("<li").Append(a.Warning ? " class=\"warn-t\"" : string.Empty).Append('>').Append(TimeTag(a.At)).Append(' ').Append(E(a.Message)).Append("</li>");
            }

            sb.Append("</ul>");
        }

        var history = await state.Options.Store.GetHistoryAsync(job.Id, ct);
        sb.Append("<details><summary>History (").Append(N(history.Count)).Append(" entries)</summary><ul class=\"activity\">");
        foreach (var h in history.Reverse().Take(200))
        {
            sb.Append("<li>").Append(TimeTag(h.At)).Append(' ').Append(Badge(h.State)).Append(' ').Append(E(h.Reason)).Append("</li>");
        }

        sb.Append("</ul></details></section>");
        return sb.ToString();
    }

    /// <summary>The budget line, as <c>status</c> shows it: the amount, what is used (with its share) and what of it is reserved; null without a budget.</summary>
    private static string? BudgetFact(JobView v, decimal? dailyBudgetUsd)
    {
        var reserved = v.Spend is { Job.ReservedUsd: > 0 } r ? $", {Budgets.Money(r.Job.ReservedUsd)} of it reserved for batches in flight" : string.Empty;
        var daily = dailyBudgetUsd is { } d && v.Spend is { } today ? $"; daily budget {Budgets.Money(d)}: {Budgets.Money(today.Day.TotalUsd)} used today (UTC, all jobs)" : string.Empty;
        if (v.Job.BudgetUsd is { } budget)
        {
            var used = v.Spend?.Job.TotalUsd ?? 0;
            var share = budget > 0 ? $" ({(used / budget).ToString("0%", CultureInfo.InvariantCulture)})" : string.Empty;
            return $"{Budgets.Money(budget)}: {Budgets.Money(used)} used{share}{reserved}{daily}";
        }

        return daily.Length > 0 ? "none" + daily : null;
    }

    /// <summary>The budget form: set, raise or remove the job's budget; what it held back is sent as far as the new one allows.</summary>
    private static string BudgetForm(DashboardState state, JobView v)
    {
        var job = v.Job;
        var suggested = v.BudgetStop is { Kind: BudgetKind.Job } stop ? stop.SuggestedBudgetUsd : job.BudgetUsd;
        var value = suggested is { } usd ? Budgets.Amount(usd) : string.Empty;
        var field = $"<label>Budget (USD) <input type=\"number\" name=\"budget_usd\" min=\"0\" step=\"any\" value=\"{E(value)}\" data-testid=\"budget-input\"></label> ";
        var label = job.BudgetUsd is null ? "Set budget" : "Change budget and continue";
        return "<div class=\"budget-form\" data-testid=\"budget-form\">"
            + PostButton($"/jobs/{Url(job.Id)}/budget", label, state.Csrf, "btn small", "set-budget", field,
                "Most this job may spend, kept on the job as 'resume --budget' does; held batches go on as far as it allows (empty removes the budget)")
            + "</div>";
    }

    /// <summary>
    /// The one line a budget stop shows on the dashboard: the engine's reason (the budget, the spend so far, the held
    /// batch's estimate), then how to continue here.
    /// </summary>
    public static string BudgetStopMessage(BudgetRefusal stop)
    {
        var reason = stop.Message;
        var cut = reason.IndexOf(" To continue,", StringComparison.Ordinal);
        reason = cut < 0 ? reason : reason[..cut];
        var next = stop.Kind == BudgetKind.Job
            ? $" To continue, raise the job's budget to {Budgets.Money(stop.SuggestedBudgetUsd)} or more (Raise budget on the job page)."
            : " To continue, resume the job after midnight UTC, or raise budget.daily_usd in config/user.yaml.";
        return "Budget stop: " + reason + next;
    }

    private static void Fact(StringBuilder sb, string label, string value, string? testId = null) =>
        sb.Append("<div><dt>").Append(E(label)).Append("</dt><dd").Append(testId is null ? string.Empty : $" data-testid=\"{E(testId)}\"").Append('>').Append(E(value)).Append("</dd></div>");

    private static string ProgressChart(JobView v, DateTimeOffset now)
    {
        var total = v.Summary.Total;
        var submitted = new List<(DateTimeOffset, long)>();
        var collected = new List<(DateTimeOffset, long)>();
        long sum = 0;
        foreach (var b in v.Batches.Where(b => b.SubmittedAt is not null).OrderBy(b => b.SubmittedAt))
        {
            sum += b.RequestCount;
            submitted.Add((b.SubmittedAt!.Value, Math.Min(sum, total)));
        }

        sum = 0;
        foreach (var b in v.Batches.Where(b => b.CollectedAt is not null && b.State == BatchState.Collected).OrderBy(b => b.CollectedAt))
        {
            sum += b.RequestCount;
            collected.Add((b.CollectedAt!.Value, Math.Min(sum, total)));
        }

        var start = v.Job.CreatedAt;
        var end = v.Summary.IsFinal && v.Summary.ActiveBatches == 0 ? (v.Job.CompletedAt ?? v.Job.UpdatedAt) : now;
        var last = submitted.Concat(collected).Select(p => p.Item1).DefaultIfEmpty(start).Max();
        if (end < last)
        {
            end = last;
        }

        return Charts.Lines("Progress over time (requests)", start, end, total,
            [("Submitted", "l-sub", submitted), ("Collected", "l-col", collected)], "chart-progress");
    }

    private static async Task<string> DiagnosisAsync(DashboardState state, JobView v, DateTimeOffset now, CancellationToken ct)
    {
        var key = string.Join('|', v.Job.Status, v.Counts, string.Join(',', v.Batches.Select(b => $"{b.Id}:{b.State}:{b.ProviderStatus}:{b.DoneCount}")));
        DiagnosisReport report;
        if (DiagnosisCache.TryGetValue(v.Job.Id, out var cached) && cached.Key == key)
        {
            report = cached.Report;
        }
        else
        {
            report = await Diagnosis.RunAsync(state.Options.Store, v.Job, now, cancellationToken: ct);
            DiagnosisCache[v.Job.Id] = (key, report);
        }

        var sb = new StringBuilder("<section class=\"diagnosis\" data-testid=\"diagnosis\"><h2>Diagnosis</h2>");
        sb.Append("<p>").Append(E(report.Summary)).Append("</p>");
        if (report.ErrorGroups.Count > 0)
        {
            sb.Append("<div class=\"table-wrap\"><table class=\"grid\"><thead><tr><th>Error</th><th>Items</th><th>Example</th><th>Batches</th><th>What to do</th></tr></thead><tbody>");
            foreach (var g in report.ErrorGroups)
            {
                sb.Append("<tr><td><b class=\"mono\">").Append(E(g.Code)).Append("</b><div class=\"muted\">").Append(E(g.Family)).Append("</div></td><td class=\"num\">")
                  .Append(N(g.Count)).Append(" (").Append(Pct(g.Rate)).Append(")</td><td>").Append(LongText(g.SampleMessage, 120))
                  .Append("<div class=\"muted mono\">").Append(E(string.Join(", ", g.CustomIds.Take(8)))).Append(g.CustomIds.Count > 8 || g.MoreCustomIds > 0 ? " …" : string.Empty).Append("</div></td><td>")
                  .Append(E(string.Join(", ", g.Batches))).Append("</td><td>").Append(E(g.Action.Text)).Append(g.ResumedByDefault ? " <span class=\"badge run\">Resume sends them</span>" : string.Empty).Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        if (report.Actions.Count > 0)
        {
            sb.Append("<h3>Recommended</h3><ul class=\"actions-list\">");
            foreach (var a in report.Actions)
            {
                sb.Append("<li>").Append(E(a.Text)).Append("</li>");
            }

            sb.Append("</ul>");
        }

        if (report.Anomalies.Count > 0)
        {
            sb.Append("<details><summary>").Append(N(report.Anomalies.Count)).Append(" result-file anomalies</summary><ul>");
            foreach (var a in report.Anomalies)
            {
                sb.Append("<li>").Append(TimeTag(a.At)).Append(' ').Append(E(a.Message)).Append("</li>");
            }

            sb.Append("</ul></details>");
        }

        return sb.Append("</section>").ToString();
    }

    public static async Task<string> ItemsAsync(DashboardState state, JobView v, ItemStatus? filter, long after, CancellationToken ct)
    {
        const int pageSize = 50;
        var job = v.Job;
        var c = v.Counts;
        var id = Url(job.Id);
        var sb = new StringBuilder("<nav class=\"tabs\" aria-label=\"Item status\">");
        foreach (var (key, label, n) in new (string?, string, long)[]
        {
            (null, "All", c.Total), ("succeeded", "Succeeded", c.Succeeded), ("failed", "Failed", c.Failed), ("expired", "Expired", c.Expired),
            ("cancelled", "Cancelled", c.Cancelled), ("in_batch", "In a batch", c.InBatch), ("pending", "Pending", c.Pending),
        })
        {
            var on = DashboardActions.ParseItemStatus(key) == filter;
            sb.Append($"<a href=\"/jobs/{id}{(key is null ? string.Empty : "?status=" + key)}#items-live\"{(on ? " class=\"on\" aria-current=\"true\"" : string.Empty)} data-testid=\"items-tab-{key ?? "all"}\">{E(label)} <b>{N(n)}</b></a>");
        }

        sb.Append("</nav>");
        var (items, next) = await new DashboardActions(state).ItemsAsync(job.Id, filter, after, pageSize, ct);
        RequestFactory? factory = null;
        try
        {
            factory = new RequestFactory(job.Spec, job.Columns);
        }
        catch (Errors.InputException)
        {
        }

        // A job with a JSON schema: each answer as its top-level fields (as the exports spread them).
        var fields = Exports.AnswerFields.ForJob(job);
        sb.Append("<div class=\"table-wrap\"><table class=\"grid items\" data-testid=\"items-table\"><thead><tr><th>#</th><th>Id</th><th>Status</th><th>Prompt</th><th>Answer</th><th>Tokens in / out</th><th>Cost</th><th>Error</th></tr></thead><tbody>");
        if (items.Count == 0)
        {
            sb.Append("<tr><td colspan=\"8\" class=\"empty\">No items here.</td></tr>");
        }

        foreach (var i in items)
        {
            var prompt = factory?.Create(i.Values);
            var cost = i.Usage is { } u ? state.Index.Prices.Cost(job.Spec.Model, u, job.Spec.Mode == JobMode.Batch) : null;
            sb.Append("<tr><td class=\"num\">").Append(N(i.Seq)).Append("</td><td class=\"mono\">").Append(E(i.CustomId)).Append(i.Attempt > 1 ? $"<div class=\"muted\">attempt {i.Attempt}</div>" : string.Empty)
              .Append("</td><td>").Append(Badge(Exports.JobExporter.StatusName(i.Status))).Append("</td><td>").Append(LongText(prompt is null ? null : (prompt.System is null ? prompt.UserText : prompt.System + "\n\n" + prompt.UserText), 120))
              .Append("</td><td>").Append(fields is not null && i.ResultText is not null ? AnswerFieldsHtml(fields, i.ResultText) : LongText(i.ResultText, 160)).Append("</td><td class=\"num\">").Append(i.Usage is { } us ? $"{N(us.InputTokens)} / {N(us.OutputTokens)}" : "–")
              .Append("</td><td class=\"num\">").Append(i.Usage is null ? "–" : Money(cost)).Append("</td><td>")
              .Append(i.ErrorCode is null && i.ErrorMessage is null ? "–" : $"<b class=\"mono bad-t\">{E(i.ErrorCode)}</b> {LongText(i.ErrorMessage, 100)}").Append("</td></tr>");
        }

        sb.Append("</tbody></table></div><nav class=\"pager\">");
        var status = filter is null ? string.Empty : "status=" + Exports.JobExporter.StatusName(filter.Value) + "&";
        if (after > 0)
        {
            sb.Append($"<a class=\"btn\" href=\"/jobs/{id}?{status.TrimEnd('&')}#items-live\">« First items</a> ");
        }

        if (next is { } n2)
        {
            sb.Append($"<a class=\"btn\" rel=\"next\" href=\"/jobs/{id}?{status}after={n2.ToString(CultureInfo.InvariantCulture)}#items-live\">Next items ›</a>");
        }

        return sb.Append("</nav>").ToString();
    }

    /// <summary>An answer of a job with a JSON schema, one line per top-level field (the raw answer when it is not the schema's object).</summary>
    private static string AnswerFieldsHtml(Exports.AnswerFields fields, string answer)
    {
        var values = fields.Values(answer);
        if (values.All(v => v is null))
        {
            return LongText(answer, 160);
        }

        var sb = new StringBuilder("<dl class=\"answer-fields\" data-testid=\"answer-fields\">");
        for (var k = 0; k < fields.Properties.Count; k++)
        {
            sb.Append("<div><dt>").Append(E(fields.Properties[k])).Append("</dt><dd>").Append(LongText(values[k], 80)).Append("</dd></div>");
        }

        return sb.Append("</dl>").ToString();
    }

    public static string DeleteConfirm(DashboardState state, JobView v, (string, bool)? flash)
    {
        var job = v.Job;
        var inFlight = v.Batches.Count(b => b.State is BatchState.Submitted or BatchState.Submitting);
        var sb = new StringBuilder();
        sb.Append("<p class=\"crumbs\"><a href=\"/\">Jobs</a> › <a href=\"/jobs/").Append(Url(job.Id)).Append("\">").Append(E(job.Id)).Append("</a> › delete</p>");
        sb.Append("<section class=\"confirm\"><h1>Delete job ").Append(E(job.Name)).Append("?</h1>");
        sb.Append("<p>This removes job <b class=\"mono\">").Append(E(job.Id)).Append("</b>, its ").Append(N(v.Counts.Total)).Append(" items, their answers and its history from the store. Download an export first if you need the results. This cannot be undone.</p>");
        var extra = inFlight > 0
            ? $"<p class=\"warn-t\">{N(inFlight)} batch(es) are still at the provider.</p><label class=\"check\"><input type=\"checkbox\" name=\"force\" value=\"true\" data-testid=\"force\"> cancel its batches at the provider first</label> "
            : string.Empty;
        sb.Append(PostButton($"/jobs/{Url(job.Id)}/delete", "Yes, delete this job", state.Csrf, "btn danger", "confirm-delete", extra));
        sb.Append(" <a class=\"btn link\" href=\"/jobs/").Append(Url(job.Id)).Append("\">No, keep it</a></section>");
        return Layout("Delete " + job.Name, "jobs", sb.ToString(), state.Csrf, flash);
    }
}
