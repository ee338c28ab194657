using System.Text.Json.Serialization;
using BatchPilot.Batches;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Pricing;
using BatchPilot.Storage;
using Spectre.Console;

namespace BatchPilot.Cli.Ui;

/// <summary>A job as shown to scripts (<c>--json</c>).</summary>
internal sealed record JobView
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Provider { get; init; }
    public required string Model { get; init; }
    public required string Mode { get; init; }
    public required string Endpoint { get; init; }
    public required string Status { get; init; }
    public required long Total { get; init; }
    public required long Succeeded { get; init; }
    public required long Failed { get; init; }
    public required long Expired { get; init; }
    public required long Cancelled { get; init; }
    public required long Pending { get; init; }
    public required double Progress { get; init; }
    public required long InputTokens { get; init; }
    public required long OutputTokens { get; init; }
    public required long CachedTokens { get; init; }

    /// <summary>Succeeded items answered from the response cache (nothing sent, no cost).</summary>
    public required long FromCache { get; init; }

    /// <summary>Actual cost from the reported usage, each batch at the price of its API; null when the model has no price.</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>The job's budget, if any.</summary>
    public decimal? BudgetUsd { get; init; }

    /// <summary>What counts against the budget: settled actual cost plus the reservations of batches in flight.</summary>
    public decimal? BudgetUsedUsd { get; init; }

    /// <summary>Estimates reserved for batches still in flight (beyond what they reported).</summary>
    public decimal? ReservedUsd { get; init; }

    /// <summary>Why submission stopped: the next batch would pass a budget (this run only).</summary>
    public string? BudgetStop { get; init; }

    public required int Batches { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public string? Output { get; init; }
    public double? ElapsedSeconds { get; init; }
    public IReadOnlyList<BatchView>? BatchDetails { get; init; }

    /// <summary>The comparison group the job belongs to, if any.</summary>
    public string? Group { get; init; }

    /// <summary>The job's variant label in its comparison group, if any.</summary>
    public string? Variant { get; init; }

    /// <summary>Items skipped with --skip-missing-images (null when the job does not skip).</summary>
    public long? SkippedImages { get; init; }

    /// <summary>Custom ids of the skipped items (the first 100).</summary>
    public IReadOnlyList<string>? SkippedIds { get; init; }

    public static JobView Of(JobRecord job, JobCounts c, IReadOnlyList<BatchRecord> batches, bool withBatches, PriceTable prices, Spend? spend = null) => new()
    {
        Id = job.Id,
        Name = job.Name,
        Provider = job.Spec.Provider,
        Model = job.Spec.Model,
        Mode = job.Spec.Mode.ToString().ToLowerInvariant(),
        Endpoint = job.Spec.Endpoint,
        Status = job.Status.ToString(),
        Total = c.Total,
        Succeeded = c.Succeeded,
        Failed = c.Failed,
        Expired = c.Expired,
        Cancelled = c.Cancelled,
        Pending = c.Pending + c.InBatch,
        Progress = c.Total == 0 ? 0 : Math.Round((double)c.Ended / c.Total, 4),
        InputTokens = c.InputTokens,
        OutputTokens = c.OutputTokens,
        CachedTokens = c.CachedTokens,
        FromCache = c.FromCache,
        CostUsd = JobCosts.OfJob(job.Spec, batches, prices) is { } cost ? Math.Round(cost, 6) : null,
        BudgetUsd = job.BudgetUsd,
        BudgetUsedUsd = job.BudgetUsd is not null && spend is { } s ? Math.Round(s.TotalUsd, 6) : null,
        ReservedUsd = spend is { ReservedUsd: > 0 } r ? Math.Round(r.ReservedUsd, 6) : null,
        Batches = batches.Count,
        CreatedAt = job.CreatedAt,
        CompletedAt = job.CompletedAt,
        BatchDetails = withBatches ? batches.Select(b => BatchView.Of(b, job.Spec, prices)).ToList() : null,
    };
}

/// <summary>A batch as shown to scripts.</summary>
internal sealed record BatchView
{
    public required int Number { get; init; }
    public required string State { get; init; }
    public string? ProviderBatchId { get; init; }
    public string? ProviderStatus { get; init; }
    public required int Requests { get; init; }
    public required int Done { get; init; }
    public required int Failed { get; init; }
    public DateTimeOffset? SubmittedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public DateTimeOffset? CollectedAt { get; init; }
    public string? Errors { get; init; }

    /// <summary>Tokens the provider reported for this batch's results.</summary>
    public required long InputTokens { get; init; }
    public required long OutputTokens { get; init; }
    public required long CachedTokens { get; init; }

    /// <summary>Actual cost of this batch (its usage at the price of its API); null when the model has no price.</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>The estimate reserved against the budgets while the batch is in flight.</summary>
    public decimal? ReservedUsd { get; init; }

    /// <summary>The batch's estimated cost, once a budget applied to it.</summary>
    public decimal? EstimateUsd { get; init; }

    public static BatchView Of(BatchRecord b, JobSpec spec, PriceTable prices) => new()
    {
        Number = b.Number,
        State = b.State.ToString(),
        ProviderBatchId = b.ProviderBatchId,
        ProviderStatus = b.ProviderStatus,
        Requests = b.RequestCount,
        Done = b.State == BatchState.Collected ? b.RequestCount : b.DoneCount,
        Failed = b.FailedCount,
        SubmittedAt = b.SubmittedAt,
        EndedAt = b.EndedAt,
        CollectedAt = b.CollectedAt,
        Errors = b.Errors,
        InputTokens = b.Usage.InputTokens,
        OutputTokens = b.Usage.OutputTokens,
        CachedTokens = b.Usage.CachedTokens,
        CostUsd = JobCosts.OfBatch(spec, b, prices) is { } cost ? Math.Round(cost, 6) : null,
        ReservedUsd = b.State is BatchState.Submitting or BatchState.Submitted or BatchState.Ended && b.ReservedUsd is { } r ? Math.Round(r, 6) : null,
        EstimateUsd = b.EstimateUsd is { } e ? Math.Round(e, 6) : null,
    };
}

/// <summary>A comparison group as shown to scripts: totals over its variants, and each variant's job.</summary>
internal sealed record GroupView
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Status { get; init; }
    public required long Total { get; init; }
    public required long Succeeded { get; init; }
    public required long Failed { get; init; }
    public required long Expired { get; init; }
    public required long Cancelled { get; init; }
    public required long Pending { get; init; }
    public decimal? CostUsd { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public string? Output { get; init; }
    public double? ElapsedSeconds { get; init; }
    public required IReadOnlyList<JobView> Variants { get; init; }

    /// <summary>Labels of variants whose job was deleted (the group's next run creates them again).</summary>
    public IReadOnlyList<string>? Missing { get; init; }

    public static GroupView Of(GroupRecord group, IReadOnlyList<JobView> variants, IReadOnlyList<string> missing) => new()
    {
        Id = group.Id,
        Name = group.Name,
        Status = StatusOf(variants.Select(v => v.Status).ToList(), missing.Count > 0),
        Total = variants.Sum(v => v.Total),
        Succeeded = variants.Sum(v => v.Succeeded),
        Failed = variants.Sum(v => v.Failed),
        Expired = variants.Sum(v => v.Expired),
        Cancelled = variants.Sum(v => v.Cancelled),
        Pending = variants.Sum(v => v.Pending),
        CostUsd = variants.All(v => v.CostUsd is not null) ? variants.Sum(v => v.CostUsd!.Value) : null,
        CreatedAt = group.CreatedAt,
        Variants = variants,
        Missing = missing.Count > 0 ? missing : null,
    };

    /// <summary>The children's common status, else Running while any is unfinished, else CompletedWithErrors.</summary>
    private static string StatusOf(IReadOnlyList<string> statuses, bool missing) =>
        Comparisons.StatusOf([.. statuses.Select(Enum.Parse<JobStatus>)], missing).ToString();
}

/// <summary>A short result line for verbs that act (cancel, delete, resume, collect, export).</summary>
internal sealed record ActionView(string Job, string Action, string Result, long? Count = null, string? Output = null);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(JobView))]
[JsonSerializable(typeof(List<JobView>))]
[JsonSerializable(typeof(ActionView))]
[JsonSerializable(typeof(List<ActionView>))]
[JsonSerializable(typeof(GroupView))]
internal sealed partial class CliJson : JsonSerializerContext;

/// <summary>Tables for human output.</summary>
internal static class JobTables
{
    public static Table Jobs(IReadOnlyList<JobView> jobs)
    {
        // The Group column appears only when a listed job belongs to a comparison group.
        var grouped = jobs.Any(j => j.Group is not null);
        var t = new Table().Border(TableBorder.Rounded);
        foreach (var h in new[] { "Job", "Name", "Provider", "Model", "Status", "OK", "Cached", "Failed", "Pending", "Cost", "Created" }.Concat(grouped ? ["Group"] : []))
        {
            t.AddColumn(h);
        }

        foreach (var j in jobs)
        {
            var cells = new List<string>
            {
                Markup.Escape(j.Id), Markup.Escape(j.Name), Markup.Escape(j.Provider), Markup.Escape(j.Model), StatusMarkup(j.Status),
                Format.Number(j.Succeeded), Format.Number(j.FromCache), Format.Number(j.Failed + j.Expired + j.Cancelled), Format.Number(j.Pending),
                Format.Money(j.CostUsd), Format.Time(j.CreatedAt),
            };
            if (grouped)
            {
                cells.Add(j.Group is null ? "-" : Markup.Escape($"{j.Group} [{j.Variant}]"));
            }

            t.AddRow(cells.ToArray());
        }

        return t;
    }

    /// <summary>A comparison group: one row per variant, then the totals.</summary>
    public static Table Group(GroupView g)
    {
        var t = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"Comparison {g.Id} ({g.Name})"));
        foreach (var h in new[] { "Variant", "Job", "Provider / model", "Status", "OK", "Failed", "Pending", "Tokens in / out", "Cost" })
        {
            t.AddColumn(h);
        }

        foreach (var j in g.Variants)
        {
            t.AddRow(
                Markup.Escape(j.Variant ?? "-"), Markup.Escape(j.Id), Markup.Escape($"{j.Provider} / {j.Model} ({j.Mode})"), StatusMarkup(j.Status),
                Format.Number(j.Succeeded), Format.Number(j.Failed + j.Expired + j.Cancelled), Format.Number(j.Pending),
                $"{Format.Number(j.InputTokens)} / {Format.Number(j.OutputTokens)}", Format.Money(j.CostUsd));
        }

        foreach (var m in g.Missing ?? [])
        {
            t.AddRow(Markup.Escape(m), "[grey]deleted[/]", "-", "-", "-", "-", "-", "-", "-");
        }

        t.AddRow(
            "[bold]all[/]", string.Empty, string.Empty, StatusMarkup(g.Status),
            Format.Number(g.Succeeded), Format.Number(g.Failed + g.Expired + g.Cancelled), Format.Number(g.Pending),
            $"{Format.Number(g.Variants.Sum(v => v.InputTokens))} / {Format.Number(g.Variants.Sum(v => v.OutputTokens))}", Format.Money(g.CostUsd));
        return t;
    }

    public static string StatusMarkup(string status) => status switch
    {
        "Completed" => "[green]Completed[/]",
        "CompletedWithErrors" => "[yellow]CompletedWithErrors[/]",
        "Failed" => "[red]Failed[/]",
        "Cancelled" => "[grey]Cancelled[/]",
        _ => "[blue]" + status + "[/]",
    };

    /// <summary>One row per batch; with <paramref name="spec"/> and <paramref name="prices"/>, its actual cost (or the estimate reserved while in flight).</summary>
    public static Table Batches(IReadOnlyList<BatchRecord> batches, DateTimeOffset now, JobSpec? spec = null, PriceTable? prices = null)
    {
        var t = new Table().Border(TableBorder.Rounded);
        foreach (var h in new[] { "Batch", "Provider batch", "Provider status", "Done/Total", "%", "ETA", "State" })
        {
            t.AddColumn(h);
        }

        var priced = spec is not null && prices is not null;
        if (priced)
        {
            t.AddColumn("Cost");
        }

        foreach (var b in batches)
        {
            var done = b.State == BatchState.Collected ? b.RequestCount : b.DoneCount;
            var eta = b.State is BatchState.Collected or BatchState.Ended or BatchState.Rejected ? "done" : Format.Eta(b.SubmittedAt, done, b.RequestCount, now);
            var cells = new List<string>
            {
                b.Number.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(b.ProviderBatchId ?? "-"),
                Markup.Escape(b.ProviderStatus ?? "-"),
                $"{Format.Number(done)}/{Format.Number(b.RequestCount)}",
                Format.Percent(done, b.RequestCount),
                eta,
                Markup.Escape(b.State.ToString()),
            };
            if (priced)
            {
                cells.Add(b.State is BatchState.Submitting or BatchState.Submitted or BatchState.Ended
                    ? (b.ReservedUsd is { } r ? Markup.Escape("≤ " + Format.Money(r) + " reserved") : "-")
                    : b.State == BatchState.Planned ? (b.EstimateUsd is { } e ? Markup.Escape("est. " + Format.Money(e)) : "-") : Format.Money(JobCosts.OfBatch(spec!, b, prices!)));
            }

            t.AddRow([.. cells]);
        }

        return t;
    }

    public static Table Summary(JobView j)
    {
        var t = new Table().Border(TableBorder.Rounded).AddColumn("Job " + Markup.Escape(j.Id)).AddColumn(Markup.Escape(j.Name));
        t.AddRow("Status", StatusMarkup(j.Status));
        t.AddRow("Provider / model", Markup.Escape($"{j.Provider} / {j.Model} ({j.Mode})"));
        t.AddRow("Items succeeded", Format.Number(j.Succeeded));
        if (j.FromCache > 0)
        {
            t.AddRow("Answered from cache", Format.Number(j.FromCache) + " (nothing sent, no cost)");
        }

        t.AddRow("Items failed", Format.Number(j.Failed));
        if (j.Expired > 0)
        {
            t.AddRow("Items expired", Format.Number(j.Expired));
        }

        if (j.Cancelled > 0)
        {
            t.AddRow("Items cancelled", Format.Number(j.Cancelled));
        }

        if (j.SkippedImages is > 0)
        {
            var ids = string.Join(", ", j.SkippedIds!.Take(10)) + (j.SkippedImages > 10 ? ", …" : string.Empty);
            t.AddRow("Skipped (image)", Markup.Escape($"{Format.Number(j.SkippedImages.Value)} of the cancelled: {ids}"));
        }

        if (j.Pending > 0)
        {
            t.AddRow("Items pending", Format.Number(j.Pending));
        }

        t.AddRow("Batches", Format.Number(j.Batches));
        t.AddRow("Tokens in / out", $"{Format.Number(j.InputTokens)} / {Format.Number(j.OutputTokens)}");
        t.AddRow("Cost", Format.Money(j.CostUsd));
        if (j.BudgetUsd is { } budget)
        {
            var used = j.BudgetUsedUsd ?? 0;
            var share = budget > 0 ? $" ({(used / budget).ToString("0%", System.Globalization.CultureInfo.InvariantCulture)})" : string.Empty;
            t.AddRow("Budget", Markup.Escape($"{Format.Money(budget)}: {Format.Money(used)} used{share}{(j.ReservedUsd is { } r ? $", {Format.Money(r)} of it reserved for batches in flight" : string.Empty)}"));
        }

        if (j.ElapsedSeconds is { } e)
        {
            t.AddRow("Elapsed", Format.Duration(TimeSpan.FromSeconds(e)));
        }

        if (j.Output is { } o)
        {
            t.AddRow("Output", Markup.Escape(o));
        }

        return t;
    }
}
