using System.Globalization;
using BatchPilot.Operations;
using Spectre.Console;

namespace BatchPilot.Cli.Ui;

/// <summary>Human rendering of a <see cref="DiagnosisReport"/> (stdout, Spectre tables).</summary>
internal static class DiagnosisViews
{
    private const int ShownIds = 5;
    private const int MaxQuietBatches = 10;

    public static void Render(Ui ui, DiagnosisReport r)
    {
        ui.Write(Summary(r));
        if (r.Batches.Count > 0)
        {
            // Many batches: show those worth a look; the others are counted (all of them are in --json).
            var shown = r.Batches.Count <= MaxQuietBatches ? r.Batches : r.Batches.Where(b => b.Action.Kind != ActionKinds.None || b.Problem is not null).ToList();
            ui.Write(new Rule("[bold]Batches[/]").LeftJustified());
            if (shown.Count > 0)
            {
                ui.Write(Batches(shown));
            }

            if (shown.Count < r.Batches.Count)
            {
                ui.Out.MarkupLine($"{Format.Number(r.Batches.Count - shown.Count)} more batch(es) with nothing to report (--json lists them all).");
            }

            foreach (var b in r.Batches.Where(b => b.Problem is not null || b.ValidationErrors.Count > 0))
            {
                ui.Out.MarkupLine($"Batch {b.Number}{(b.ProviderBatchId is null ? string.Empty : " (" + Markup.Escape(b.ProviderBatchId) + ")")}: {Markup.Escape(b.Problem ?? "validation errors")}");
                if (b.ValidationErrors.Count > 0)
                {
                    ui.Write(ValidationErrors(b.ValidationErrors));
                }
            }
        }

        if (r.ErrorGroups.Count > 0)
        {
            ui.Write(new Rule("[bold]Failed items by error code[/]").LeftJustified());
            ui.Write(Groups(r));
        }

        if (r.Anomalies.Count > 0)
        {
            ui.Write(new Rule("[bold]Result-file anomalies[/]").LeftJustified());
            foreach (var a in r.Anomalies)
            {
                ui.Out.MarkupLine($"{Format.Time(a.At)}  {Markup.Escape(a.Message)}");
            }
        }

        ui.Write(new Rule("[bold]What to do[/]").LeftJustified());
        var n = 0;
        foreach (var a in r.Actions)
        {
            n++;
            ui.Out.MarkupLine($"{n.ToString(CultureInfo.InvariantCulture)}. [[{Markup.Escape(a.Kind)}]] {Markup.Escape(a.Text)}");
        }
    }

    private static Table Summary(DiagnosisReport r)
    {
        var c = r.Items;
        var t = new Table().Border(TableBorder.Rounded).AddColumn("Job " + Markup.Escape(r.JobId)).AddColumn(Markup.Escape(r.JobName));
        t.AddRow("Status", JobTables.StatusMarkup(r.Status));
        t.AddRow("Provider / model", Markup.Escape($"{r.Provider} / {r.Model} ({r.Mode}, {r.Endpoint})"));
        t.AddRow("Items", Markup.Escape(
            $"{Format.Number(c.Total)}: {Format.Number(c.Succeeded)} succeeded, {Format.Number(c.Failed)} failed, {Format.Number(c.Expired)} expired, {Format.Number(c.Cancelled)} cancelled, {Format.Number(c.Pending + c.InFlight)} pending"));
        t.AddRow("Failure rate", r.FailureRate > 0 ? $"[red]{Rate(r.FailureRate)}[/]" : Rate(r.FailureRate));
        t.AddRow("Created", Format.Time(r.CreatedAt));
        if (r.CompletedAt is not null)
        {
            t.AddRow("Completed", Format.Time(r.CompletedAt));
        }

        t.AddRow("Diagnosis", Markup.Escape(r.Summary));
        return t;
    }

    private static Table Batches(IEnumerable<BatchDiagnosis> batches)
    {
        var t = new Table().Border(TableBorder.Rounded);
        t.AddColumn("#");
        t.AddColumn(new TableColumn("Provider batch").NoWrap());
        t.AddColumn(new TableColumn("Provider status").NoWrap());
        t.AddColumn("State");
        t.AddColumn(new TableColumn("Requests").RightAligned());
        t.AddColumn(new TableColumn("Provider done/failed").RightAligned());
        t.AddColumn(new TableColumn("Items ok/failed").RightAligned());
        t.AddColumn(new TableColumn("Failure rate").RightAligned());
        t.AddColumn(new TableColumn("Submitted").NoWrap());
        t.AddColumn(new TableColumn("Ended").NoWrap());
        t.AddColumn(new TableColumn("Action").NoWrap());
        foreach (var b in batches)
        {
            var status = Markup.Escape(b.ProviderStatus ?? "-");
            if (b.Stuck)
            {
                status = $"[red]{status} (stuck {Markup.Escape(Diagnosis.FormatAge(TimeSpan.FromSeconds(b.AgeSeconds ?? 0)))})[/]";
            }

            t.AddRow(
                b.Number.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(b.ProviderBatchId ?? "-"),
                status,
                Markup.Escape(b.State),
                Format.Number(b.Requests),
                $"{Format.Number(b.ProviderDone)}/{Format.Number(b.ProviderFailed)}",
                $"{Format.Number(b.ItemsSucceeded)}/{Format.Number(b.ItemsFailed)}",
                Rate(b.FailureRate),
                Format.Time(b.SubmittedAt),
                Format.Time(b.EndedAt),
                Markup.Escape(b.Action.Kind));
        }

        return t;
    }

    private static Table ValidationErrors(IReadOnlyList<ValidationError> errors)
    {
        var t = new Table().Border(TableBorder.Simple);
        foreach (var h in new[] { "Input line", "Code", "Message", "custom_id", "Source row" })
        {
            t.AddColumn(h);
        }

        foreach (var e in errors)
        {
            t.AddRow(
                e.Line?.ToString(CultureInfo.InvariantCulture) ?? "-",
                Markup.Escape(e.Code ?? "-"),
                Markup.Escape(e.Message),
                Markup.Escape(e.CustomId ?? "-"),
                e.SourceRow?.ToString(CultureInfo.InvariantCulture) ?? "-");
        }

        return t;
    }

    private static Table Groups(DiagnosisReport r)
    {
        var t = new Table().Border(TableBorder.Rounded);
        foreach (var h in new[] { "Error code", "Items", "Share", "Batches", "Sample message", "custom_ids", "What to do" })
        {
            t.AddColumn(h);
        }

        foreach (var g in r.ErrorGroups)
        {
            var shown = g.CustomIds.Take(ShownIds).ToList();
            var more = g.Count - shown.Count;
            var ids = string.Join(", ", shown) + (more > 0 ? $" and {more.ToString(CultureInfo.InvariantCulture)} more" : string.Empty);
            t.AddRow(
                Markup.Escape(g.Code),
                Format.Number(g.Count),
                Rate(g.Rate),
                string.Join(", ", g.Batches.Select(n => n.ToString(CultureInfo.InvariantCulture))),
                Markup.Escape(g.SampleMessage ?? "-"),
                Markup.Escape(ids),
                Markup.Escape(g.Action.Text));
        }

        return t;
    }

    private static string Rate(double rate) => rate.ToString("0.#%", CultureInfo.InvariantCulture);
}
