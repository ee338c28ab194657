using System.Net;
using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Jobs;

namespace BatchPilot.Web.Tests;

public sealed class DashboardApiTests
{
    [Fact]
    public async Task CreateJob_FromAnUpload_RunsToCompletionWithTheBackgroundEngine()
    {
        // Given a dashboard on the emulator
        await using var host = await WebHost.StartAsync();

        // When a job is created over the API
        var id = await host.CreateJobAsync(12);

        // Then the background engine submits, polls and collects it with no one clicking
        Assert.Equal("Completed", await host.WaitForStatusAsync(id, "Completed"));
        using var job = await host.JobAsync(id);
        var j = job.RootElement.GetProperty("job");
        Assert.Equal(12, j.GetProperty("succeeded").GetInt64());
        Assert.Equal(1.0, j.GetProperty("progress").GetDouble());
        Assert.True(j.GetProperty("cost_usd").GetDecimal() > 0);
        Assert.NotEmpty(job.RootElement.GetProperty("batch_list").EnumerateArray());
        using var items = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri($"/api/jobs/{id}/items?limit=5", UriKind.Relative)));
        var first = items.RootElement.GetProperty("items")[0];
        Assert.Equal("Classify Product 1: Review number 1, with a comma", first.GetProperty("prompt").GetString());
        Assert.False(string.IsNullOrEmpty(first.GetProperty("response").GetString()));
        Assert.Equal(5, items.RootElement.GetProperty("next_after").GetInt64());
    }

    [Fact]
    public async Task Resume_AfterInjectedFailures_SendsOnlyTheFailedItemsAgain()
    {
        // Given an emulator failing a third of the requests on their first attempt
        var faults = new FaultScenario { Items = [new ItemFaultRule { Error = "server_error", Rate = 0.34, FirstAttemptOnly = true }] };
        await using var host = await WebHost.StartAsync(faults: faults);
        var id = await host.CreateJobAsync(30);
        Assert.Equal("CompletedWithErrors", await host.WaitForStatusAsync(id, "CompletedWithErrors", "Completed"));
        using (var before = await host.JobAsync(id))
        {
            Assert.True(before.RootElement.GetProperty("job").GetProperty("failed").GetInt64() > 0);
        }

        // When the user resumes
        using var resp = await host.PostJsonAsync($"/api/jobs/{id}/resume", "{}");
        var body = await resp.Content.ReadAsStringAsync();

        // Then the failed items go out again and the job completes
        Assert.True(resp.IsSuccessStatusCode, body);
        Assert.Contains("\"result\":\"Resumed\"", body, StringComparison.Ordinal);
        Assert.Equal("Completed", await host.WaitForStatusAsync(id, "Completed"));
    }

    [Fact]
    public async Task SyncMode_LaunchAndResume_SendThroughTheSynchronousApi()
    {
        // Given an emulator refusing the first three synchronous requests (HTTP 410: the transport does not retry it)
        var faults = new FaultScenario { Http = [new HttpFaultRule { Method = "POST", Path = "/v1/chat/completions", Status = 410, First = 3 }] };
        await using var host = await WebHost.StartAsync(faults: faults);

        // When a job is launched in sync mode
        var id = await host.CreateJobAsync(10, mode: "sync");

        // Then it is sent at once through the synchronous API, in chunks recorded as batches with provider status "sync"
        Assert.Equal("CompletedWithErrors", await host.WaitForStatusAsync(id, "CompletedWithErrors", "Completed"));
        using (var before = await host.JobAsync(id))
        {
            var job = before.RootElement.GetProperty("job");
            Assert.Equal("sync", job.GetProperty("mode").GetString());
            Assert.Equal(3, job.GetProperty("failed").GetInt64());
            Assert.All(before.RootElement.GetProperty("batch_list").EnumerateArray(), b => Assert.Equal("sync", b.GetProperty("provider_status").GetString()));
        }

        // And a resume (including items refused as invalid) sends the failed items again through the synchronous API
        using var resp = await host.PostJsonAsync($"/api/jobs/{id}/resume?include_invalid=true", "{}");
        Assert.Contains("\"result\":\"Resumed\"", await resp.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("Completed", await host.WaitForStatusAsync(id, "Completed"));
        using var after = await host.JobAsync(id);
        Assert.Equal(10, after.RootElement.GetProperty("job").GetProperty("succeeded").GetInt64());
        Assert.All(after.RootElement.GetProperty("batch_list").EnumerateArray(), b => Assert.Equal("sync", b.GetProperty("provider_status").GetString()));
        Assert.Equal(0, host.Emulator.Server.Counters["POST /v1/batches"]);
        Assert.Equal(13, host.Emulator.Server.Counters["POST /v1/chat/completions"]);
    }

    [Fact]
    public async Task SyncMode_Cancel_StopsTheRunningSend_AndSettlesItsItems()
    {
        // Given a sync job whose requests take half a second each
        var faults = new FaultScenario { Http = [new HttpFaultRule { Method = "POST", Path = "/v1/chat/completions", Status = 0, DelayMs = 500 }] };
        await using var host = await WebHost.StartAsync(faults: faults);
        var id = await host.CreateJobAsync(400, mode: "sync");
        await WaitUntilAsync(async () => (await host.JobAsync(id)).RootElement.GetProperty("job").GetProperty("succeeded").GetInt64() > 0);

        // When it is cancelled while sending
        using var cancel = await host.PostJsonAsync($"/api/jobs/{id}/cancel", "{}");

        // Then the send stops: the job is cancelled, the answered items are kept, no item is left in flight or sent later
        Assert.True(cancel.IsSuccessStatusCode, await cancel.Content.ReadAsStringAsync());
        Assert.Equal("Cancelled", await host.WaitForStatusAsync(id, "Cancelled"));
        var counts = await host.Store.GetCountsAsync(id);
        Assert.Equal(0, counts.InBatch + counts.Pending);
        Assert.True(counts.Succeeded > 0 && counts.Cancelled > 0, $"{counts.Succeeded} succeeded, {counts.Cancelled} cancelled");
        var sent = host.Emulator.Server.Counters["POST /v1/chat/completions"];
        Assert.True(sent < 400, $"{sent} requests sent");
    }

    [Theory]
    [InlineData("csv", "text/csv")]
    [InlineData("jsonl", "application/x-ndjson")]
    [InlineData("md", "text/markdown")]
    [InlineData("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]
    [InlineData("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    public async Task Export_EachFormat_IsADownloadOfTheResults(string format, string type)
    {
        await using var host = await WebHost.StartAsync();
        var id = await host.CreateJobAsync(3);
        await host.WaitForStatusAsync(id, "Completed");

        using var resp = await host.Http.GetAsync(new Uri($"/jobs/{id}/export?format={format}", UriKind.Relative));
        var bytes = await resp.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal(type, resp.Content.Headers.ContentType!.MediaType);
        Assert.Equal("attachment", resp.Content.Headers.ContentDisposition!.DispositionType);
        Assert.EndsWith("." + format, resp.Content.Headers.ContentDisposition.FileName!.Trim('"'), StringComparison.Ordinal);
        Assert.True(bytes.Length > 20);
        if (format is "docx" or "xlsx")
        {
            Assert.Equal((byte)'P', bytes[0]);
            Assert.Equal((byte)'K', bytes[1]);
        }
        else
        {
            Assert.Contains("Review number 2", System.Text.Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task CancelThenDelete_ThroughTheApi_RemovesTheJob()
    {
        // Given a job whose batches take a minute
        await using var host = await WebHost.StartAsync(batchSeconds: 60);
        var id = await host.CreateJobAsync(4);
        await WaitUntilAsync(async () => (await host.JobAsync(id)).RootElement.GetProperty("job").GetProperty("active_batches").GetInt32() > 0
            && (await host.JobAsync(id)).RootElement.GetProperty("batch_list")[0].GetProperty("state").GetString() == "Submitted");

        // When it is deleted without force, then cancelled, then deleted
        using var refused = await host.PostJsonAsync($"/api/jobs/{id}", "{}", method: HttpMethod.Delete);
        using var cancel = await host.PostJsonAsync($"/api/jobs/{id}/cancel", "{}");
        using var deleted = await host.PostJsonAsync($"/api/jobs/{id}?force=true", "{}", method: HttpMethod.Delete);

        // Then the first delete is refused with a reason, and the job is gone at the end
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("in flight", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(cancel.IsSuccessStatusCode, await cancel.Content.ReadAsStringAsync());
        Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        using var gone = await host.Http.GetAsync(new Uri("/api/jobs/" + id, UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Null(await host.Store.GetJobAsync(id));
    }

    [Fact]
    public async Task CollectAll_AndRefresh_CollectEndedBatches()
    {
        await using var host = await WebHost.StartAsync();
        var id = await host.CreateJobAsync(5);
        await host.WaitForStatusAsync(id, "Completed");

        using var all = await host.PostJsonAsync("/api/collect-all", "{}");
        using var refresh = await host.PostJsonAsync($"/api/jobs/{id}/refresh", "{}");
        using var collect = await host.PostJsonAsync($"/api/jobs/{id}/collect", "{}");

        Assert.True(all.IsSuccessStatusCode, await all.Content.ReadAsStringAsync());
        Assert.Contains("\"result\":\"Completed\"", await refresh.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("\"action\":\"collect\"", await collect.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobList_FiltersSortsAndPages_ThousandsOfJobs()
    {
        // Given 1,200 jobs in the store
        await using var host = await WebHost.StartAsync();
        var t0 = DateTimeOffset.UnixEpoch.AddYears(55);
        for (var i = 0; i < 1200; i++)
        {
            var spec = new JobSpec { InputPath = "x.csv", InputSha256 = "0", Provider = i % 3 == 0 ? "anthropic" : "openai", Model = i % 3 == 0 ? "claude-haiku-4-5" : "gpt-4o-mini", Prompt = "p", Endpoint = "emulator" };
            await host.Store.CreateJobAsync(new JobRecord
            {
                Id = $"job-{i:x6}",
                Name = $"bulk {i:D4}",
                Spec = spec,
                Fingerprint = $"f{i}",
                Status = JobStatus.Preparing,
                Columns = ["a"],
                CreatedAt = t0.AddMinutes(i),
                UpdatedAt = t0.AddMinutes(i),
            });
        }

        await WaitUntilAsync(async () => (await Json(host, "/api/jobs?size=1")).RootElement.GetProperty("total").GetInt32() == 1200);

        // When the list is queried
        using var page3 = await Json(host, "/api/jobs?size=500&page=3");
        using var search = await Json(host, "/api/jobs?q=bulk%2000&sort=name&dir=asc");
        using var anthropic = await Json(host, "/api/jobs?provider=anthropic&size=1");
        using var html = await host.Http.GetAsync(new Uri("/?q=bulk%200007", UriKind.Relative));

        // Then filters, sort and pages apply
        Assert.Equal(200, page3.RootElement.GetProperty("jobs").GetArrayLength());
        Assert.Equal(100, search.RootElement.GetProperty("total").GetInt32());
        Assert.Equal("bulk 0000", search.RootElement.GetProperty("jobs")[0].GetProperty("name").GetString());
        Assert.Equal(400, anthropic.RootElement.GetProperty("total").GetInt32());
        var text = await html.Content.ReadAsStringAsync();
        Assert.Contains("bulk 0007", text, StringComparison.Ordinal);
        Assert.DoesNotContain("bulk 0008", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_ShowTheJob_ItsBatchesChartsAndDiagnosis()
    {
        await using var host = await WebHost.StartAsync();
        var id = await host.CreateJobAsync(6, name: "page-check");
        await host.WaitForStatusAsync(id, "Completed");

        var list = await host.Http.GetStringAsync(new Uri("/", UriKind.Relative));
        var detail = await host.Http.GetStringAsync(new Uri("/jobs/" + id, UriKind.Relative));
        var failedTab = await host.Http.GetStringAsync(new Uri($"/jobs/{id}?status=failed", UriKind.Relative));

        Assert.Contains("page-check", list, StringComparison.Ordinal);
        Assert.Contains("6/6 (100 %)", list, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"chart-cost-model\"", list, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"batches-table\"", detail, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"diagnosis\"", detail, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"chart-progress\"", detail, StringComparison.Ordinal);
        Assert.Contains("<svg", detail, StringComparison.Ordinal);
        Assert.Contains("Classify Product 1: Review number 1", detail, StringComparison.Ordinal);
        Assert.Contains("No items here.", failedTab, StringComparison.Ordinal);
        foreach (var html in new[] { list, detail, failedTab })
        {
            // Nothing comes from elsewhere: every script, style, image and font is the app's own
            Assert.DoesNotMatch("(src|href|action)=\"(https?:)?//", html);
            Assert.Contains("<script src=\"/static/app.js\">", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Preview_RendersTheFirstRequests_AndEstimatesBatchAndSyncCost()
    {
        await using var host = await WebHost.StartAsync();
        var input = await host.UploadAsync("r.csv", WebHost.ReviewsCsv(10));

        using var resp = await host.PostJsonAsync("/api/preview", $$$"""{"input":"{{{input}}}","model":"gpt-4o-mini","prompt":"Say {{product}}","max_tokens":10}""");
        using var bad = await host.PostJsonAsync("/api/preview", $$$"""{"input":"{{{input}}}","model":"gpt-4o-mini","prompt":"Say {{nope}}"}""");
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        using var badDoc = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());

        Assert.Equal(3, doc.RootElement.GetProperty("requests").GetArrayLength());
        Assert.Equal("Say Product 1", doc.RootElement.GetProperty("requests")[0].GetProperty("user").GetString());
        var est = doc.RootElement.GetProperty("estimate");
        Assert.Equal(10, est.GetProperty("items").GetInt64());
        Assert.True(est.GetProperty("batch_cost_usd").GetDecimal() < est.GetProperty("sync_cost_usd").GetDecimal());
        Assert.Contains("{{nope}}", badDoc.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenApi_EveryDocumentedRouteExists()
    {
        await using var host = await WebHost.StartAsync();
        using var doc = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/api/openapi.json", UriKind.Relative)));
        foreach (var path in doc.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var op in path.Value.EnumerateObject())
            {
                var url = path.Name.Replace("{id}", "job-nosuch", StringComparison.Ordinal);
                using var req = new HttpRequestMessage(new HttpMethod(op.Name.ToUpperInvariant()), url);
                req.Headers.Add("X-CSRF-Token", await host.CsrfAsync());
                using var resp = await host.Http.SendAsync(req);
                var body = await resp.Content.ReadAsStringAsync();
                Assert.False(resp.StatusCode == HttpStatusCode.NotFound && body.Contains("no such API route", StringComparison.Ordinal), $"{op.Name} {path.Name}");
                Assert.NotEqual(HttpStatusCode.MethodNotAllowed, resp.StatusCode);
            }
        }
    }

    [Fact]
    public async Task JobsCreatedChangedAndDeletedByAnotherProcess_ShowInTheList()
    {
        // Given a dashboard whose list has been read once (so it is cached), and another process on the same store
        await using var host = await WebHost.StartAsync();
        Assert.Equal(0, (await Json(host, "/api/jobs")).RootElement.GetProperty("total").GetInt32());
        using var other = BatchPilot.Storage.Sqlite.SqliteJobStore.Open(host.Workspace.PathOf("jobs.db"));
        var now = DateTimeOffset.UtcNow;
        var spec = new JobSpec { InputPath = "x.csv", InputSha256 = "0", Provider = "openai", Model = "gpt-4o-mini", Prompt = "p {{a}}", Endpoint = "emulator" };
        JobRecord Job(string id, DateTimeOffset at) => new() { Id = id, Name = id, Spec = spec, Fingerprint = id, Status = JobStatus.Preparing, Columns = ["a"], CreatedAt = at, UpdatedAt = at };

        // When it creates a job, then one dated a year ago (as an imported store would have)
        await other.CreateJobAsync(Job("job-cli001", now));
        await other.AppendItemsAsync("job-cli001", [new BatchPilot.Storage.NewItem(1, "row-1", 2, ["x"])]);
        await other.TrySetJobStatusAsync("job-cli001", [JobStatus.Preparing], JobStatus.Pending, "All rows read.", 1);
        await WaitUntilAsync(async () => Status(await Json(host, "/api/jobs"), "job-cli001") == "Pending");
        await other.CreateJobAsync(Job("job-old001", now.AddYears(-1)));
        await WaitUntilAsync(async () => (await Json(host, "/api/jobs")).RootElement.GetProperty("total").GetInt32() == 2);

        // And changes the first one's status, then deletes it
        await other.TrySetJobStatusAsync("job-cli001", [JobStatus.Pending], JobStatus.Cancelled, "Cancelled from the CLI.");
        await WaitUntilAsync(async () => Status(await Json(host, "/api/jobs"), "job-cli001") == "Cancelled");
        await other.DeleteJobAsync("job-cli001");

        // Then the list follows each change by itself, the page too
        await WaitUntilAsync(async () => Status(await Json(host, "/api/jobs"), "job-cli001") is null);
        using var list = await Json(host, "/api/jobs");
        Assert.Equal(1, list.RootElement.GetProperty("total").GetInt32());
        Assert.Equal("Preparing", Status(list, "job-old001"));
        var html = await host.Http.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.DoesNotContain("job-cli001", html, StringComparison.Ordinal);
        Assert.Contains("job-old001", html, StringComparison.Ordinal);
    }

    private static string? Status(JsonDocument list, string id) =>
        list.RootElement.GetProperty("jobs").EnumerateArray().Where(j => j.GetProperty("id").GetString() == id).Select(j => j.GetProperty("status").GetString()).FirstOrDefault();

    [Fact]
    public async Task OpenApi_DocumentsEveryApiRoute()
    {
        await using var host = await WebHost.StartAsync();
        using var doc = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/api/openapi.json", UriKind.Relative)));
        var documented = doc.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(op => op.Name.ToUpperInvariant() + " " + p.Name)).ToHashSet(StringComparer.Ordinal);

        var routes = ((Microsoft.AspNetCore.Routing.EndpointDataSource)host.Dashboard.Services.GetService(typeof(Microsoft.AspNetCore.Routing.EndpointDataSource))!).Endpoints
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && raw.StartsWith("/api", StringComparison.Ordinal) && !raw.Contains('*', StringComparison.Ordinal))
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => m + " " + e.RoutePattern.RawText))
            .ToList();

        Assert.True(routes.Count >= 18, string.Join(", ", routes));
        Assert.All(routes, r => Assert.Contains(r, documented));
    }

    private static async Task<JsonDocument> Json(WebHost host, string path) =>
        JsonDocument.Parse(await host.Http.GetStringAsync(new Uri(path, UriKind.Relative)));

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(100);
        }
    }
}
