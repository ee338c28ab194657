using System.Net;
using System.Text.Json;

namespace BatchPilot.Web.Tests;

/// <summary>What the CLI gained (budgets, the response cache, comparison groups, batch-file jobs) offered by the dashboard.</summary>
public sealed class CliParityTests
{
    [Fact]
    public async Task Budget_HoldsTheBatchBack_ThePageSaysWhy_AndRaisingItLetsTheJobFinish()
    {
        // Given a dashboard on the emulator
        await using var host = await WebHost.StartAsync();
        var input = await host.UploadAsync("budgeted.csv", WebHost.ReviewsCsv(12));

        // When a job is launched with a budget far below its estimate
        using var created = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{input}}}","name":"budgeted","model":"gpt-4o-mini","prompt":"Classify {{product}}: {{review_text}}","max_tokens":50,"budget_usd":0.000001}""");
        var body = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, body);
        var id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;

        // Then the budget is kept on the job, and its batch is held back with the reason and the budget that lets it go
        var stop = await WaitForAsync(host, id, d => d.RootElement.GetProperty("budget") is { ValueKind: JsonValueKind.Object } b && b.GetProperty("stop").ValueKind == JsonValueKind.String);
        var budget = stop.RootElement.GetProperty("budget");
        Assert.Equal(0.000001m, budget.GetProperty("budget_usd").GetDecimal());
        Assert.Equal(0.000001m, stop.RootElement.GetProperty("job").GetProperty("budget_usd").GetDecimal());
        Assert.Contains("the job budget of $0.000001 would be passed", budget.GetProperty("stop").GetString(), StringComparison.Ordinal);
        Assert.Contains("raise the job's budget to $", budget.GetProperty("stop").GetString(), StringComparison.Ordinal);
        Assert.Equal(12, stop.RootElement.GetProperty("job").GetProperty("pending").GetInt64() + stop.RootElement.GetProperty("job").GetProperty("in_batch").GetInt64());
        Assert.Equal(0, host.Emulator.Server.Counters["POST /v1/batches"]);
        var page = await host.Http.GetStringAsync(new Uri("/jobs/" + id, UriKind.Relative));
        Assert.Contains("data-testid=\"budget-stop\"", page, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"budget\">$0.000001: $0.00 used (0%)", page, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"set-budget\"", page, StringComparison.Ordinal);

        // When the budget is raised with the page's form
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["_csrf"] = await host.CsrfAsync(), ["budget_usd"] = "5" });
        using var raised = await host.Http.PostAsync(new Uri($"/jobs/{id}/budget", UriKind.Relative), form);

        // Then the held batch goes, the job completes within its budget, and the change is in the job's history
        Assert.Equal(HttpStatusCode.Redirect, raised.StatusCode);
        Assert.Equal("Completed", await host.WaitForStatusAsync(id, "Completed"));
        using var done = await host.JobAsync(id);
        var after = done.RootElement.GetProperty("budget");
        Assert.Equal(5m, after.GetProperty("budget_usd").GetDecimal());
        Assert.InRange(after.GetProperty("used_usd").GetDecimal(), 0.0000001m, 5m);
        Assert.Equal(JsonValueKind.Null, after.GetProperty("stop").ValueKind);
        Assert.Contains(await host.Store.GetHistoryAsync(id), h => h.Reason == "Budget set to $5.00 (dashboard).");
        Assert.Contains(await host.Store.GetHistoryAsync(id), h => h.Reason == "Budget set to $0.000001 (dashboard).");
    }

    [Fact]
    public async Task Budget_OnAModelWithoutAPrice_IsRefusedBeforeAnythingIsStored()
    {
        await using var host = await WebHost.StartAsync();
        var input = await host.UploadAsync("unpriced.csv", WebHost.ReviewsCsv(3));

        using var created = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{input}}}","name":"unpriced","model":"gpt-unknown-model","prompt":"Classify {{product}}","budget_usd":1}""");
        var body = await created.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error").GetString();
        Assert.Contains("no price is known for model 'gpt-unknown-model', so a budget cannot be enforced", error, StringComparison.Ordinal);
        Assert.Empty(await host.Store.ListJobsAsync(100));
    }

    [Fact]
    public async Task Cache_ASecondRunIsAnsweredFromTheCache_AndNoCacheSendsEveryRequest()
    {
        // Given a job that ran to completion
        await using var host = await WebHost.StartAsync();
        var input = await host.UploadAsync("cached.csv", WebHost.ReviewsCsv(5));
        var first = await LaunchAsync(host, input, "first", extra: string.Empty);
        Assert.Equal("Completed", await host.WaitForStatusAsync(first, "Completed"));
        var sentBefore = host.Emulator.Server.Counters["POST /v1/batches"];

        // When the same job is launched again as a new job
        var second = await LaunchAsync(host, input, "second", extra: ",\"new\":true");

        // Then every item is answered from the cache: nothing is sent, nothing is paid, the page counts them
        Assert.Equal("Completed", await host.WaitForStatusAsync(second, "Completed"));
        using (var doc = await host.JobAsync(second))
        {
            var job = doc.RootElement.GetProperty("job");
            Assert.Equal(5, job.GetProperty("from_cache").GetInt64());
            Assert.Equal(0m, job.GetProperty("cost_usd").GetDecimal());
        }

        Assert.Equal(sentBefore, host.Emulator.Server.Counters["POST /v1/batches"]);
        var page = await host.Http.GetStringAsync(new Uri("/jobs/" + second, UriKind.Relative));
        Assert.Contains("data-testid=\"count-cached\">5 (nothing sent, no cost)", page, StringComparison.Ordinal);

        // And with "no cache" the requests are sent again
        var third = await LaunchAsync(host, input, "third", extra: ",\"new\":true,\"no_cache\":true");
        Assert.Equal("Completed", await host.WaitForStatusAsync(third, "Completed"));
        using var fresh = await host.JobAsync(third);
        Assert.Equal(0, fresh.RootElement.GetProperty("job").GetProperty("from_cache").GetInt64());
        Assert.True(fresh.RootElement.GetProperty("job").GetProperty("cost_usd").GetDecimal() > 0);
        Assert.Equal(sentBefore + 1, host.Emulator.Server.Counters["POST /v1/batches"]);
    }

    private static async Task<string> LaunchAsync(WebHost host, string input, string name, string extra)
    {
        using var resp = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{input}}}","name":"{{{name}}}","model":"gpt-4o-mini","prompt":"Classify {{product}}: {{review_text}}","max_tokens":50{{{extra}}}}""");
        var body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Waits (bounded) until the job's API view satisfies the condition; returns that view.</summary>
    private static async Task<JsonDocument> WaitForAsync(WebHost host, string id, Func<JsonDocument, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var doc = await host.JobAsync(id);
            if (condition(doc))
            {
                return doc;
            }

            doc.Dispose();
            Assert.True(DateTime.UtcNow < deadline, $"job {id} did not reach the expected state");
            await Task.Delay(200);
        }
    }
}
