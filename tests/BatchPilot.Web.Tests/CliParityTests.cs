using System.Net;
using System.Text.Json;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Running;

namespace BatchPilot.Web.Tests;

/// <summary>What the CLI gained (budgets, the response cache, comparison groups, batch-file jobs) offered by the dashboard.</summary>
public sealed class CliParityTests
{
    [Theory]
    [InlineData("batch", "POST /v1/batches", "the next batch (12 requests)")]
    [InlineData("sync", "POST /v1/chat/completions", "the next chunk of sync requests (12 requests)")]
    public async Task Budget_HoldsTheBatchBack_ThePageSaysWhy_AndRaisingItLetsTheJobFinish(string mode, string sends, string next)
    {
        // Given a dashboard on the emulator
        await using var host = await WebHost.StartAsync();
        var input = await host.UploadAsync("budgeted.csv", WebHost.ReviewsCsv(12));

        // When a job is launched with a budget far below its estimate
        using var created = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{input}}}","name":"budgeted","model":"gpt-4o-mini","mode":"{{{mode}}}","prompt":"Classify {{product}}: {{review_text}}","max_tokens":50,"budget_usd":0.000001}""");
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
        Assert.Contains(next, budget.GetProperty("stop").GetString(), StringComparison.Ordinal);
        Assert.Equal(12, stop.RootElement.GetProperty("job").GetProperty("pending").GetInt64() + stop.RootElement.GetProperty("job").GetProperty("in_batch").GetInt64());
        Assert.Equal(0, host.Emulator.Server.Counters[sends]);
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
    public async Task Budget_RaisedToTheSuggestedAmount_SendsTheBatch_AndAlertsAt80Percent()
    {
        // Given a job held back by its budget
        await using var host = await WebHost.StartAsync();
        var input = await host.UploadAsync("alert.csv", WebHost.ReviewsCsv(5));
        using var created = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{input}}}","model":"gpt-4o-mini","prompt":"Classify {{product}}","max_tokens":40,"budget_usd":0}""");
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        using var held = await WaitForAsync(host, id, d => d.RootElement.GetProperty("budget") is { ValueKind: JsonValueKind.Object } b && b.GetProperty("suggested_budget_usd").ValueKind == JsonValueKind.Number);
        var suggested = held.RootElement.GetProperty("budget").GetProperty("suggested_budget_usd").GetDecimal();
        Assert.Contains($"raise the job's budget to {BatchPilot.Running.Budgets.Money(suggested)} or more", held.RootElement.GetProperty("budget").GetProperty("stop").GetString(), StringComparison.Ordinal);

        // When the budget is raised to the suggested amount over the API
        using var raised = await host.PostJsonAsync($"/api/jobs/{id}/budget", $$"""{"budget_usd":{{suggested.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""");
        Assert.Contains("\"result\":\"Set\"", await raised.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Then the batch goes (its estimate is all the budget allows), and the 80 % alert is in the activity and the history
        Assert.Equal("Completed", await host.WaitForStatusAsync(id, "Completed"));
        Assert.Equal(1, host.Emulator.Server.Counters["POST /v1/batches"]);
        using var done = await host.JobAsync(id);
        Assert.Contains(done.RootElement.GetProperty("activity").EnumerateArray(), a => a.GetProperty("message").GetString()!.StartsWith("budget alert: ", StringComparison.Ordinal) && a.GetProperty("warning").GetBoolean());
        Assert.Contains(await host.Store.GetHistoryAsync(id), h => h.Reason.Contains("budget alert", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task DailyBudget_FromTheConfiguration_HoldsBatchesBack_AndSaysToWaitForMidnight()
    {
        // Given a dashboard with the CLI's daily budget (budget.daily_usd) far below a job's estimate
        await using var host = await WebHost.StartAsync(costs: new Running.CostOptions { DailyBudgetUsd = 0.000001m });

        // When a job without a budget of its own is launched
        var id = await host.CreateJobAsync(6);

        // Then its batch is held back by the daily budget, and the page says what the day has used and how to go on
        using var stop = await WaitForAsync(host, id, d => d.RootElement.GetProperty("budget") is { ValueKind: JsonValueKind.Object } b && b.GetProperty("stop").ValueKind == JsonValueKind.String);
        var budget = stop.RootElement.GetProperty("budget");
        Assert.Equal(0.000001m, budget.GetProperty("daily_budget_usd").GetDecimal());
        Assert.Equal(JsonValueKind.Null, budget.GetProperty("budget_usd").ValueKind);
        Assert.StartsWith("Budget stop: the daily budget of $0.000001 (budget.daily_usd) would be passed", budget.GetProperty("stop").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("To continue, resume the job after midnight UTC, or raise budget.daily_usd in config/user.yaml.", budget.GetProperty("stop").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, host.Emulator.Server.Counters["POST /v1/batches"]);
        var page = await host.Http.GetStringAsync(new Uri("/jobs/" + id, UriKind.Relative));
        Assert.Contains("data-testid=\"budget\">none; daily budget $0.000001: $0.00 used today (UTC, all jobs)", page, StringComparison.Ordinal);
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

    [Fact]
    public async Task ComparisonGroup_ShowsOnTheListAndThePage_AndTheListFindsItsJobs()
    {
        // Given a comparison group stored as 'run --model a,b' stores it: the group with its reserved job ids, then the jobs
        await using var host = await WebHost.StartAsync();
        var other = await host.CreateJobAsync(2, name: "unrelated");
        var csv = host.Workspace.PathOf("inputs/compare.csv");
        await File.WriteAllTextAsync(csv, WebHost.ReviewsCsv(3));
        var group = new GroupRecord
        {
            Id = GroupRecord.NewGroupId(),
            Name = "compare",
            Fingerprint = "f",
            CreatedAt = DateTimeOffset.UtcNow,
            Members = [new GroupMember(0, "gpt-4o-mini", "job-c0ffe1", "a"), new GroupMember(1, "gpt-4.1-mini", "job-c0ffe2", "b")],
        };
        await host.Store.CreateGroupAsync(group);
        foreach (var m in group.Members)
        {
            await CreateStoredJobAsync(host, csv, m.Label, m.JobId, "compare [" + m.Label + "]");
        }

        // When the list and a job page are read (the index picks the new jobs and their group up)
        using var list = await WaitForListAsync(host, l => l.RootElement.GetProperty("jobs").EnumerateArray().Count(j => j.GetProperty("group").ValueKind == JsonValueKind.String) == 2);

        // Then each variant names its group and label, the list links to the group, and a search by group id finds just its jobs
        var a = list.RootElement.GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("id").GetString() == "job-c0ffe1");
        Assert.Equal(group.Id, a.GetProperty("group").GetString());
        Assert.Equal("gpt-4o-mini", a.GetProperty("variant").GetString());
        var jobsPage = await host.Http.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.Contains($"<a class=\"group-link\" href=\"/?q={group.Id}\" title=\"compare\" data-testid=\"group-link\">{group.Id}</a> · gpt-4.1-mini", jobsPage, StringComparison.Ordinal);
        var found = await host.Http.GetStringAsync(new Uri("/?q=" + group.Id, UriKind.Relative));
        Assert.Contains("job-c0ffe1", found, StringComparison.Ordinal);
        Assert.Contains("job-c0ffe2", found, StringComparison.Ordinal);
        Assert.DoesNotContain(other, found, StringComparison.Ordinal);
        var page = await host.Http.GetStringAsync(new Uri("/jobs/job-c0ffe1", UriKind.Relative));
        Assert.Contains($"data-testid=\"job-group\"><a href=\"/?q={group.Id}\">compare ({group.Id})</a>, variant gpt-4o-mini", page, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/jobs/job-c0ffe2\" data-testid=\"variant-link\">gpt-4.1-mini</a>", page, StringComparison.Ordinal);

        // And once both variants are done, the page's comparison download puts their answers side by side (export grp-…)
        Assert.Contains($"href=\"/groups/{group.Id}/export?format=csv\"", page, StringComparison.Ordinal);
        Assert.Equal("Completed", await host.WaitForStatusAsync("job-c0ffe1", "Completed"));
        Assert.Equal("Completed", await host.WaitForStatusAsync("job-c0ffe2", "Completed"));
        using var merged = await host.Http.GetAsync(new Uri($"/groups/{group.Id}/export?format=csv", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, merged.StatusCode);
        var lines = (await merged.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("response [gpt-4o-mini]", lines[0], StringComparison.Ordinal);
        Assert.Contains("response [gpt-4.1-mini]", lines[0], StringComparison.Ordinal);
        Assert.Equal(4, lines.Length);
        using var xlsx = await host.Http.GetAsync(new Uri($"/api/groups/{group.Id}/export?format=xlsx", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, xlsx.StatusCode);
        Assert.Contains("a comparison is written as csv, jsonl, md or docx, not xlsx", JsonDocument.Parse(await xlsx.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RawJob_OffersTheProviderOutputFile_OnceEveryRequestHasItsResult()
    {
        // Given a job of a ready OpenAI batch file (as 'submit-file' makes it), submitted to the emulator
        await using var host = await WebHost.StartAsync(batchSeconds: 1.5);
        var spec = new JobSpec
        {
            Kind = JobKind.Raw,
            RawUrl = "/v1/chat/completions",
            InputPath = host.Workspace.PathOf("requests.jsonl"),
            InputSha256 = "raw",
            Provider = ProviderNames.OpenAI,
            Model = "gpt-4o-mini",
            Prompt = string.Empty,
            IdColumn = JobSpec.RawColumns[0],
            Endpoint = host.Emulator.OpenAIBaseUrl,
        };
        var rows = Enumerable.Range(1, 3).Select(i => new SourceRow(i, i, [$"req-{i}", $$$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say {{{i}}}"}],"max_tokens":20}"""])).ToList();
        var id = await SubmitStoredAsync(host, new CreateJobRequest { Spec = spec, Name = "requests", Columns = JobSpec.RawColumns, Rows = _ => rows });

        // Then while requests have no result the provider file is refused with one line, and no estimate is made
        using (var early = await host.Http.GetAsync(new Uri($"/jobs/{id}/export?format=provider", UriKind.Relative)))
        {
            var body = await early.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, early.StatusCode);
            Assert.Contains("have no result yet", body, StringComparison.Ordinal);
        }

        // When the dashboard's background engine collects it
        Assert.Equal("Completed", await host.WaitForStatusAsync(id, "Completed"));

        // Then its page offers the provider output file, which has the provider's line for each request, in order
        var page = await host.Http.GetStringAsync(new Uri("/jobs/" + id, UriKind.Relative));
        Assert.Contains("data-testid=\"export-provider\"", page, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"job-kind\"", page, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"cost-estimated\">– (a batch file&#39;s requests are not estimated)", page, StringComparison.Ordinal);
        using var resp = await host.Http.GetAsync(new Uri($"/jobs/{id}/export?format=provider", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.EndsWith(".output.jsonl", resp.Content.Headers.ContentDisposition!.FileName!.Trim('"'), StringComparison.Ordinal);
        var lines = (await resp.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["req-1", "req-2", "req-3"], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("custom_id").GetString()));
        Assert.All(lines, l => Assert.Equal(200, JsonDocument.Parse(l).RootElement.GetProperty("response").GetProperty("status_code").GetInt32()));
        using var job = await host.JobAsync(id);
        Assert.Equal("raw", job.RootElement.GetProperty("job").GetProperty("kind").GetString());
        Assert.True(job.RootElement.GetProperty("job").GetProperty("cost_usd").GetDecimal() > 0);
        Assert.Equal(JsonValueKind.Null, job.RootElement.GetProperty("job").GetProperty("estimated_cost_usd").ValueKind);

        // And a job made from a table does not offer it
        var table = await host.CreateJobAsync(2);
        Assert.DoesNotContain("export-provider", await host.Http.GetStringAsync(new Uri("/jobs/" + table, UriKind.Relative)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("meta-llama/llama-3.1-8b-instruct:free", "auto", "batch", "chat", "'mode': batch mode is not available for meta-llama/llama-3.1-8b-instruct:free (provider openrouter): OpenRouter requests go through its synchronous API only")]
    [InlineData("claude-haiku-4-5", "auto", "sync", "responses", "'api': the Responses API is used with OpenAI only, not anthropic")]
    [InlineData("gpt-4o-mini", "anthropic", "batch", "chat", "'model': the model 'gpt-4o-mini' is not a model of anthropic")]
    [InlineData("Llama-3.1-8B", "openrouter", "sync", "chat", "'model': the model id 'Llama-3.1-8B' is not an OpenRouter model id")]
    public async Task NewJob_ProviderAndApiChoices_AreCheckedAsTheCliChecksThem(string model, string provider, string mode, string api, string error)
    {
        await using var host = await WebHost.StartAsync();
        var input = await host.UploadAsync("choices.csv", WebHost.ReviewsCsv(2));

        using var resp = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{input}}}","model":"{{{model}}}","provider":"{{{provider}}}","mode":"{{{mode}}}","api":"{{{api}}}","prompt":"Classify {{product}}"}""");
        var body = await resp.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, resp.StatusCode);
        Assert.StartsWith(error, JsonDocument.Parse(body).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(await host.Store.ListJobsAsync(100));
    }

    [Fact]
    public async Task NewJob_ResponsesApiWithAJsonSchema_SendsThroughTheResponsesApi_AndExportsTheSchemaFields()
    {
        // Given a schema file and a table
        await using var host = await WebHost.StartAsync();
        var input = await host.UploadAsync("structured.csv", WebHost.ReviewsCsv(4));
        const string schema = """{"type":"object","properties":{"sentiment":{"type":"string","enum":["positive","negative","neutral"]},"score":{"type":"number"}},"required":["sentiment","score"],"additionalProperties":false}""";

        // When a sync job is launched from the New job form with the Responses API and the schema file
        using var form = new MultipartFormDataContent
        {
            { new StringContent(await host.CsrfAsync()), "_csrf" },
            { new StringContent(input), "input" },
            { new StringContent("structured"), "name" },
            { new StringContent("gpt-4o-mini"), "model" },
            { new StringContent("sync"), "mode" },
            { new StringContent("responses"), "api" },
            { new StringContent("Classify {{review_text}}"), "prompt" },
            { new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(schema)), "json_schema_file", "sentiment.json" },
        };
        using var created = await host.Http.PostAsync(new Uri("/jobs", UriKind.Relative), form);
        Assert.True(created.StatusCode == HttpStatusCode.Redirect, await created.Content.ReadAsStringAsync());
        var id = Uri.UnescapeDataString(created.Headers.Location!.OriginalString.Split('?')[0]["/jobs/".Length..]);

        // Then the job keeps the API and the schema, its requests go to /v1/responses, and the export has a column per field
        Assert.Equal("Completed", await host.WaitForStatusAsync(id, "Completed"));
        var job = (await host.Store.GetJobAsync(id))!;
        Assert.Equal("responses", job.Spec.Api);
        Assert.Contains("\"sentiment\"", job.Spec.JsonSchema, StringComparison.Ordinal);
        Assert.Equal(4, host.Emulator.Server.Counters["POST /v1/responses"]);
        Assert.Equal(0, host.Emulator.Server.Counters["POST /v1/chat/completions"]);
        var csv = await host.Http.GetStringAsync(new Uri($"/jobs/{id}/export?format=csv", UriKind.Relative));
        var header = csv.Split('\n')[0];
        Assert.Contains("sentiment", header, StringComparison.Ordinal);
        Assert.Contains("score", header, StringComparison.Ordinal);
        var page = await host.Http.GetStringAsync(new Uri("/jobs/" + id, UriKind.Relative));
        Assert.Contains("<dl class=\"answer-fields\" data-testid=\"answer-fields\"><div><dt>sentiment</dt><dd>", page, StringComparison.Ordinal);
        Assert.Contains("<div><dt>score</dt><dd>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NewJob_ImageColumn_IsKeptOnTheJob_AndAnImageOutsideTheAllowedFolderIsRefusedWithItsRow()
    {
        await using var host = await WebHost.StartAsync();
        var ok = await host.UploadAsync("photos.csv", "id,caption,image\np1,a cat,https://example.invalid/cat.png\np2,no image,\n");
        var bad = await host.UploadAsync("sneaky.csv", "id,caption,image\np1,a cat,https://example.invalid/cat.png\np2,secret,/etc/hostname.png\n");

        // An image cell naming a file outside the allowed folder: one line with the file, row and column, nothing stored
        using var refused = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{bad}}}","model":"gpt-4o-mini","prompt":"Describe {{caption}}","image_columns":"image"}""");
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.StartsWith("sneaky.csv, row 3: 'image': the image '/etc/hostname.png' is outside the allowed folder", error, StringComparison.Ordinal);

        // A column that is not in the input is named with the columns there are
        using var unknown = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{ok}}}","model":"gpt-4o-mini","prompt":"Describe {{caption}}","image_columns":"picture"}""");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.StartsWith("photos.csv: 'image column': the image column 'picture' is not in the input", JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(await host.Store.ListJobsAsync(100));

        // A good one is created with its image column and the skip setting, as 'run --image-column --skip-missing-images'
        using var created = await host.PostJsonAsync("/api/jobs", $$$"""{"input":"{{{ok}}}","model":"gpt-4o-mini","mode":"sync","prompt":"Describe {{caption}}","image_columns":"image","skip_missing_images":true}""");
        var body = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, body);
        var job = (await host.Store.GetJobAsync(JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!))!;
        Assert.Equal(["image"], job.Spec.ImageColumns);
        Assert.True(job.Spec.SkipMissingImages);
    }

    /// <summary>Creates a job from a CSV in the store under a given id, as a comparison's variant is, and submits it.</summary>
    private static async Task CreateStoredJobAsync(WebHost host, string csv, string model, string jobId, string name)
    {
        var spec = new JobSpec
        {
            InputPath = csv,
            InputSha256 = Inputs.InputFingerprint.ComputeSha256(csv),
            Provider = ProviderNames.OpenAI,
            Model = model,
            Prompt = "Classify {{product}}",
            MaxTokens = 20,
            Endpoint = host.Emulator.OpenAIBaseUrl,
        };
        var rows = new List<SourceRow>();
        using (var reader = Inputs.TableReader.Open(csv, Inputs.TableReadOptions.Default))
        {
            foreach (var r in reader.ReadRows(CancellationToken.None))
            {
                rows.Add(new SourceRow(r.Index, r.Row, r.Values));
            }
        }

        await SubmitStoredAsync(host, new CreateJobRequest { Spec = spec, Name = name, Columns = ["id", "product", "review_text"], Rows = _ => rows, JobId = jobId });
    }

    /// <summary>Creates the job and submits it with an engine of its own, as the CLI does; returns its id.</summary>
    private static async Task<string> SubmitStoredAsync(WebHost host, CreateJobRequest request)
    {
        using var client = BatchClients.Create(new BatchClientOptions
        {
            Provider = request.Spec.Provider,
            BaseUrl = new Uri(request.Spec.Endpoint),
            ApiKey = WebHost.ApiKey,
            SpoolDirectory = host.Workspace.PathOf("spool-cli"),
        });
        var created = await CreateJob.RunAsync(host.Store, request, client, TimeProvider.System, CancellationToken.None);
        await JobSteps.SubmitAsync(new JobEngine(host.Store, client, TimeProvider.System), created.Job);
        return created.Job.Id;
    }

    /// <summary>Waits (bounded) until the job list satisfies the condition; returns it.</summary>
    private static async Task<JsonDocument> WaitForListAsync(WebHost host, Func<JsonDocument, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var doc = JsonDocument.Parse(await host.Http.GetStringAsync(new Uri("/api/jobs?size=200", UriKind.Relative)));
            if (condition(doc))
            {
                return doc;
            }

            doc.Dispose();
            Assert.True(DateTime.UtcNow < deadline, "the job list did not reach the expected state");
            await Task.Delay(200);
        }
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
