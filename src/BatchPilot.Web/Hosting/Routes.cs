using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using BatchPilot.Errors;
using BatchPilot.Operations;
using BatchPilot.Providers;
using BatchPilot.Web.Api;
using BatchPilot.Web.Data;
using BatchPilot.Web.Pages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BatchPilot.Web.Hosting;

/// <summary>The routes: HTML pages and their POST actions, the JSON API under /api, and the embedded static files.</summary>
internal static class Routes
{
    private const string RegionHeader = "X-Live-Region";

    public static void Map(WebApplication app)
    {
        var state = app.Services.GetRequiredService<DashboardState>();
        var actions = new DashboardActions(state);
        var stopping = app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        var assets = Assets.Load();

        // ---------------------------------------------------------------- pages
        app.MapGet("/", (HttpContext ctx) =>
        {
            var q = ParseQuery(ctx.Request.Query);
            if (ctx.Request.Headers[RegionHeader] == "jobs-live")
            {
                return HtmlBytes(state.Responses.GetOrRender("jobs-live|" + JobsPage.Link(q), () => Pages.Html.Utf8(JobsPage.Live(state, q, new System.Text.StringBuilder()))));
            }

            if (ctx.Request.Query.ContainsKey("m"))
            {
                return HtmlBytes(Pages.Html.Utf8(JobsPage.Render(state, q, state.TakeFlash(ctx.Request.Query["m"]))));
            }

            return HtmlBytes(state.Responses.GetOrRender("jobs|" + JobsPage.Link(q), () => Pages.Html.Utf8(JobsPage.Render(state, q, null))));
        });

        app.MapGet("/jobs/{id}", (HttpContext ctx, string id) => Page(ctx, async () =>
        {
            var view = await JobView.LoadAsync(state, id, ctx.RequestAborted);
            var filter = DashboardActions.ParseItemStatus(ctx.Request.Query["status"]);
            var after = long.TryParse(ctx.Request.Query["after"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) ? a : 0;
            return ctx.Request.Headers[RegionHeader].ToString() switch
            {
                "job-live" => Html(await JobPage.LiveAsync(state, view, ctx.RequestAborted)),
                "items-live" => Html(await JobPage.ItemsAsync(state, view, filter, after, ctx.RequestAborted)),
                _ => Html(await JobPage.RenderAsync(state, view, filter, after, state.TakeFlash(ctx.Request.Query["m"]), ctx.RequestAborted)),
            };
        }));

        app.MapGet("/jobs/{id}/delete", (HttpContext ctx, string id) => Page(ctx, async () =>
        {
            return Html(JobPage.DeleteConfirm(state, await JobView.LoadAsync(state, id, ctx.RequestAborted), state.TakeFlash(ctx.Request.Query["m"])));
        }));

        app.MapGet("/jobs/{id}/export", (HttpContext ctx, string id) => Page(ctx, () => ExportAsync(ctx, actions, id)));
        app.MapGet("/groups/{id}/export", (HttpContext ctx, string id) => Page(ctx, () => ExportGroupAsync(ctx, actions, id)));
        app.MapGet("/new", (HttpContext ctx) => Html(NewJobPage.Render(state, null, state.TakeFlash(ctx.Request.Query["m"]))));

        app.MapPost("/jobs", async (HttpContext ctx, CancellationToken _) =>
        {
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            var (dto, badNumber) = FromForm(form);
            try
            {
                if (badNumber is not null)
                {
                    throw badNumber;
                }

                if (form.Files.GetFile("file") is { Length: > 0 } file)
                {
                    dto = dto with { Input = (await state.Uploads.SaveAsync(file, ctx.RequestAborted)).Reference };
                }

                if (form.Files.GetFile("json_schema_file") is { Length: > 0 } schemaFile && dto.JsonSchema is null)
                {
                    if (schemaFile.Length > MaxSchemaBytes)
                    {
                        throw new InputException($"the schema file is over {MaxSchemaBytes / 1024} KB", file: schemaFile.FileName, field: "JSON schema", hint: "a JSON Schema of the answer is a few KB");
                    }

                    using var text = new StreamReader(schemaFile.OpenReadStream());
                    dto = dto with { JsonSchema = await text.ReadToEndAsync(ctx.RequestAborted) };
                }

                var job = await actions.CreateAsync(dto, ctx.RequestAborted, stopping);
                return Results.Redirect($"/jobs/{Uri.EscapeDataString(job.Id)}?m={state.Flash($"Job {job.Id} launched: {job.TotalItems:N0} items.")}");
            }
            catch (Exception ex) when (ex is InputException or ProviderException)
            {
                return Html(NewJobPage.Render(state, dto, (JobRunner.Describe(ex), true)), StatusCodes.Status400BadRequest);
            }
        });

        foreach (var name in new[] { "refresh", "collect", "resume", "cancel", "delete" })
        {
            app.MapPost("/jobs/{id}/" + name, async (HttpContext ctx, string id) =>
            {
                var form = ctx.Request.HasFormContentType ? await ctx.Request.ReadFormAsync(ctx.RequestAborted) : null;
                var flag = (string? key) => form is not null && form[key!] == "true";
                var back = $"/jobs/{Uri.EscapeDataString(id)}";
                try
                {
                    var result = await RunAction(actions, name, id, flag("include_invalid"), flag("force"), ctx.RequestAborted, stopping, flag("no_cache"));
                    return Results.Redirect((name == "delete" ? "/" : back) + "?m=" + state.Flash(result.Message ?? result.Result));
                }
                catch (JobNotFoundException)
                {
                    return Results.Redirect("/?m=" + state.Flash($"No job '{id}': it may have been deleted.", error: true));
                }
                catch (Exception ex) when (ex is InputException or ProviderException or JobRunner.BusyException)
                {
                    Log.ActionFailed(state.Logger, name, id, JobRunner.Describe(ex));
                    return Results.Redirect((name == "delete" ? back + "/delete" : back) + "?m=" + state.Flash(JobRunner.Describe(ex), error: true));
                }
            });
        }

        app.MapPost("/jobs/{id}/budget", async (HttpContext ctx, string id) =>
        {
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            var back = $"/jobs/{Uri.EscapeDataString(id)}";
            try
            {
                var result = await actions.BudgetAsync(id, ParseBudget(form["budget_usd"].ToString()), ctx.RequestAborted, stopping);
                return Results.Redirect(back + "?m=" + state.Flash(result.Message ?? result.Result));
            }
            catch (JobNotFoundException)
            {
                return Results.Redirect("/?m=" + state.Flash($"No job '{id}': it may have been deleted.", error: true));
            }
            catch (Exception ex) when (ex is InputException or ProviderException or JobRunner.BusyException)
            {
                Log.ActionFailed(state.Logger, "budget", id, JobRunner.Describe(ex));
                return Results.Redirect(back + "?m=" + state.Flash(JobRunner.Describe(ex), error: true));
            }
        });

        app.MapPost("/collect-all", async (HttpContext ctx, CancellationToken _) =>
        {
            var results = await actions.CollectAllAsync(ctx.RequestAborted);
            var text = results.Count == 0 ? "Nothing to collect: no job has batches at the provider." : string.Join(" ", results.Select(r => r.Message));
            return Results.Redirect("/?m=" + state.Flash(text, results.Any(r => r.Result == "Error")));
        });

        app.MapGet("/static/{name}", (HttpContext ctx, string name) =>
        {
            if (!assets.TryGetValue(name, out var asset))
            {
                return Results.NotFound();
            }

            if (ctx.Request.Headers.IfNoneMatch == asset.ETag)
            {
                return Results.StatusCode(StatusCodes.Status304NotModified);
            }

            ctx.Response.Headers.CacheControl = "private, max-age=300";
            ctx.Response.Headers.ETag = asset.ETag;
            return Results.Bytes(asset.Bytes, asset.ContentType);
        });

        app.MapGet("/api/docs", () => Html(ApiDocs.Render(state, assets["openapi.json"].Bytes)));

        // ---------------------------------------------------------------- API
        var api = app.MapGroup("/api");
        api.MapGet("/openapi.json", () => Results.Bytes(assets["openapi.json"].Bytes, "application/json"));
        api.MapGet("/csrf", () => Results.Json(new CsrfDto(state.Csrf, AccessGuard.CsrfHeader, AccessGuard.CsrfField), WebJson.Default.CsrfDto));
        api.MapGet("/jobs", (HttpContext ctx) =>
        {
            var q = ParseQuery(ctx.Request.Query);
            return Results.Bytes(state.Responses.GetOrRender("api-jobs|" + JobsPage.Link(q), () =>
            {
                var page = state.Index.Query(q);
                state.Index.WantEstimates(page.Jobs);
                var now = state.Time.GetUtcNow();
                return JsonSerializer.SerializeToUtf8Bytes(new JobListDto(page.Total, page.Page, page.Size, page.Pages, page.Version, page.Jobs.Select(j => JobDto.Of(j, state.Index.EstimateOf(j.Id), now)).ToList()), WebJson.Default.JobListDto);
            }), "application/json; charset=utf-8");
        });
        api.MapGet("/stats", () =>
        {
            var snap = state.Index.Current;
            return Results.Json(new StatsDto(snap.Jobs.Length, snap.Active, snap.Items, snap.CostUsd,
                state.Index.CostByModel().Select(x => new LabelValueDto(x.Label, x.Value)).ToList(),
                state.Index.CostByDay(30).Select(x => new LabelValueDto(x.Label, x.Value)).ToList()), WebJson.Default.StatsDto);
        });
        api.MapGet("/jobs/{id}", (HttpContext ctx, string id) => Api(ctx, async () =>
        {
            var v = await JobView.LoadAsync(state, id, ctx.RequestAborted);
            var dto = new JobDetailDto(JobDto.Of(v.Summary, v.Estimate, state.Time.GetUtcNow()), v.Batches.Select(BatchDto.Of).ToList(), EstimateDto.Of(v.Estimate),
                v.Activity.Select(a => new ActivityDto(a.At, a.Message, a.Warning)).ToList(), v.Busy, v.BudgetView(state.Options.Costs.DailyBudgetUsd));
            return Results.Json(dto, WebJson.Default.JobDetailDto);
        }));
        api.MapGet("/jobs/{id}/items", (HttpContext ctx, string id) => Api(ctx, async () =>
        {
            var job = await actions.RequireAsync(id, ctx.RequestAborted);
            var status = ctx.Request.Query["status"].ToString();
            var filter = DashboardActions.ParseItemStatus(status);
            if (status.Length > 0 && filter is null)
            {
                throw new InputException($"unknown item status '{status}'", field: "status", hint: "use pending, in_batch, succeeded, failed, expired or cancelled");
            }

            var after = long.TryParse(ctx.Request.Query["after"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) ? a : 0;
            var limit = int.TryParse(ctx.Request.Query["limit"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 1000) : 100;
            var (items, next) = await actions.ItemsAsync(job.Id, filter, after, limit, ctx.RequestAborted);
            Planning.RequestFactory? factory = null;
            try
            {
                factory = new Planning.RequestFactory(job.Spec, job.Columns);
            }
            catch (InputException)
            {
            }

            return Results.Json(new ItemPageDto(items.Select(i => ItemDto.Of(i, job, factory, state.Index.Prices)).ToList(), next), WebJson.Default.ItemPageDto);
        }));
        api.MapGet("/jobs/{id}/diagnosis", (HttpContext ctx, string id) => Api(ctx, async () =>
        {
            var job = await actions.RequireAsync(id, ctx.RequestAborted);
            var report = await Diagnosis.RunAsync(state.Options.Store, job, state.Time.GetUtcNow(), cancellationToken: ctx.RequestAborted);
            return Results.Json(report, WebJson.Default.DiagnosisReport);
        }));
        api.MapGet("/jobs/{id}/export", (HttpContext ctx, string id) => Api(ctx, () => ExportAsync(ctx, actions, id)));
        api.MapGet("/groups/{id}/export", (HttpContext ctx, string id) => Api(ctx, () => ExportGroupAsync(ctx, actions, id)));
        api.MapPost("/uploads", (HttpContext ctx, CancellationToken _) => Api(ctx, async () =>
        {
            if (!ctx.Request.HasFormContentType || (await ctx.Request.ReadFormAsync(ctx.RequestAborted)).Files.GetFile("file") is not { } file)
            {
                throw new InputException("send the file as multipart/form-data in a field named 'file'", field: "file");
            }

            var input = await state.Uploads.SaveAsync(file, ctx.RequestAborted);
            try
            {
                return Results.Json(DashboardActions.Describe(input), WebJson.Default.UploadDto, statusCode: StatusCodes.Status201Created);
            }
            catch (InputException ex)
            {
                throw new InputException(ex.Message, ex, file: input.DisplayName, row: ex.Row, field: ex.Field, hint: ex.Hint);
            }
        }));
        api.MapGet("/inputs", (HttpContext ctx, CancellationToken _) => Api(ctx, () =>
        {
            var reference = ctx.Request.Query["input"].ToString();
            return Task.FromResult(Results.Json(DashboardActions.Describe(actions.ResolveInput(reference)), WebJson.Default.UploadDto));
        }));
        api.MapPost("/preview", (HttpContext ctx, CancellationToken _) => Api(ctx, async () =>
        {
            var dto = await ReadJsonAsync(ctx, WebJson.Default.CreateJobDto);
            return Results.Json(actions.Preview(dto, ctx.RequestAborted), WebJson.Default.PreviewDto);
        }));
        api.MapPost("/jobs", (HttpContext ctx, CancellationToken _) => Api(ctx, async () =>
        {
            var dto = await ReadJsonAsync(ctx, WebJson.Default.CreateJobDto);
            var job = await actions.CreateAsync(dto, ctx.RequestAborted, stopping);
            var summary = state.Index.Find(job.Id) ?? new JobSummary { Job = job, Counts = await state.Options.Store.GetCountsAsync(job.Id, ctx.RequestAborted) };
            return Results.Json(JobDto.Of(summary, state.Index.EstimateOf(job.Id), state.Time.GetUtcNow()), WebJson.Default.JobDto, statusCode: StatusCodes.Status201Created);
        }));
        foreach (var name in new[] { "refresh", "collect", "resume", "cancel" })
        {
            api.MapPost("/jobs/{id}/" + name, (HttpContext ctx, string id) => Api(ctx, async () =>
                Results.Json(await RunAction(actions, name, id, Flag(ctx, "include_invalid"), false, ctx.RequestAborted, stopping, Flag(ctx, "no_cache")), WebJson.Default.ActionDto)));
        }

        api.MapPost("/jobs/{id}/budget", (HttpContext ctx, string id) => Api(ctx, async () =>
        {
            var dto = await ReadJsonAsync(ctx, WebJson.Default.BudgetRequestDto);
            return Results.Json(await actions.BudgetAsync(id, dto.BudgetUsd, ctx.RequestAborted, stopping), WebJson.Default.ActionDto);
        }));

        api.MapDelete("/jobs/{id}", (HttpContext ctx, string id) => Api(ctx, async () =>
            Results.Json(await actions.DeleteAsync(id, Flag(ctx, "force"), ctx.RequestAborted), WebJson.Default.ActionDto)));
        api.MapPost("/collect-all", (HttpContext ctx, CancellationToken _) => Api(ctx, async () =>
            Results.Json((await actions.CollectAllAsync(ctx.RequestAborted)).ToList(), WebJson.Default.ListActionDto)));
        api.MapFallback(() => Results.Json(new ErrorDto("no such API route: see /api/openapi.json"), WebJson.Default.ErrorDto, statusCode: StatusCodes.Status404NotFound));
    }

    /// <summary>The largest JSON schema file the New job form takes.</summary>
    private const long MaxSchemaBytes = 1024 * 1024;

    private static bool Flag(HttpContext ctx, string name) =>
        ctx.Request.Query[name] is { Count: > 0 } v && (v[0] is "true" or "1" or "yes");

    private static Task<ActionDto> RunAction(DashboardActions actions, string name, string id, bool includeInvalid, bool force, CancellationToken ct, CancellationToken stopping, bool noCache = false) => name switch
    {
        "refresh" => actions.RefreshAsync(id, ct),
        "collect" => actions.CollectAsync(id, ct),
        "resume" => actions.ResumeAsync(id, includeInvalid, ct, stopping, noCache),
        "cancel" => actions.CancelAsync(id, ct),
        _ => actions.DeleteAsync(id, force, ct),
    };

    private static async Task<IResult> ExportAsync(HttpContext ctx, DashboardActions actions, string id)
    {
        var format = ctx.Request.Query["format"].ToString();
        return Send(await actions.ExportAsync(id, format.Length == 0 ? "csv" : format, ctx.RequestAborted));
    }

    private static async Task<IResult> ExportGroupAsync(HttpContext ctx, DashboardActions actions, string id)
    {
        var format = ctx.Request.Query["format"].ToString();
        return Send(await actions.ExportGroupAsync(id, format.Length == 0 ? "csv" : format, ctx.RequestAborted));
    }

    /// <summary>Sends a staged export, deleted once sent.</summary>
    private static IResult Send(ExportFile file)
    {
        var stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        return Results.File(stream, file.ContentType, file.FileName);
    }

    private static async Task<T> ReadJsonAsync<T>(HttpContext ctx, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
        where T : new()
    {
        if (!ctx.Request.HasJsonContentType())
        {
            throw new InputException("send a JSON body (Content-Type: application/json)", field: "body");
        }

        try
        {
            return await ctx.Request.ReadFromJsonAsync(info, ctx.RequestAborted) ?? new T();
        }
        catch (JsonException ex)
        {
            throw new InputException($"the JSON body cannot be read ({ex.Message})", ex, field: "body");
        }
    }

    /// <summary>A budget typed in a form: dollars (a leading <c>$</c> allowed); empty or <c>off</c> removes it.</summary>
    private static decimal? ParseBudget(string text)
    {
        var t = text.Trim();
        if (t.Length == 0 || t.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return decimal.TryParse(t.TrimStart('$'), NumberStyles.Float, CultureInfo.InvariantCulture, out var usd) && usd >= 0
            ? usd
            : throw new InputException($"'{text}' is not an amount in USD", field: "budget", hint: "give dollars, e.g. 5 or 0.50 (empty: no budget)");
    }

    /// <summary>The New job form as a request; a field that is not a number is returned as the error to show (with the other fields kept).</summary>
    private static (CreateJobDto Dto, InputException? Error) FromForm(IFormCollection f)
    {
        static string? S(IFormCollection f, string k) => f[k].ToString() is { Length: > 0 } v ? v : null;
        static long? L(IFormCollection f, string k, string field) => S(f, k) is { } v
            ? long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new InputException($"'{v}' is not a whole number", field: field)
            : null;
        static double? D(IFormCollection f, string k, string field) => S(f, k) is { } v
            ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : throw new InputException($"'{v}' is not a number", field: field)
            : null;
        var dto = new CreateJobDto
        {
            Input = S(f, "input"),
            Name = S(f, "name"),
            Model = S(f, "model"),
            Provider = S(f, "provider"),
            Mode = S(f, "mode"),
            Prompt = S(f, "prompt"),
            System = S(f, "system"),
            IdColumn = S(f, "id_column"),
            New = f["new"] == "true",
            NoCache = f["no_cache"] == "true",
            ImageColumns = S(f, "image_columns"),
            SkipMissingImages = f["skip_missing_images"] == "true",
            JsonSchema = S(f, "json_schema"),
            Api = S(f, "api"),
        };
        try
        {
            return (dto with
            {
                MaxTokens = (int?)L(f, "max_tokens", "max tokens"),
                Temperature = D(f, "temperature", "temperature"),
                StartRow = L(f, "start_row", "start row"),
                EndRow = L(f, "end_row", "end row"),
                BudgetUsd = S(f, "budget_usd") is { } budget ? ParseBudget(budget) : null,
                RequestsPerMinute = L(f, "requests_per_minute", "requests per minute"),
                TokensPerMinute = L(f, "tokens_per_minute", "tokens per minute"),
                Concurrency = (int?)L(f, "concurrency", "concurrency"),
            }, null);
        }
        catch (InputException ex)
        {
            return (dto, ex);
        }
    }

    internal static JobQuery ParseQuery(IQueryCollection q)
    {
        static string? S(IQueryCollection q, string k) => q[k].ToString() is { Length: > 0 } v ? v : null;
        static DateOnly? Date(string? v) => DateOnly.TryParseExact(v, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : null;
        var sort = S(q, "sort") is { } s && JobQuery.SortKeys.Contains(s) ? s : "created";
        return new JobQuery
        {
            Search = S(q, "q"),
            Status = S(q, "status"),
            Provider = S(q, "provider"),
            Model = S(q, "model"),
            From = Date(S(q, "from")),
            To = Date(S(q, "to")),
            Sort = sort,
            Descending = S(q, "dir") != "asc",
            Page = int.TryParse(S(q, "page"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 1,
            Size = int.TryParse(S(q, "size"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var z) ? Math.Clamp(z, 1, 500) : 50,
        };
    }

    private static IResult HtmlBytes(byte[] html) => Results.Bytes(html, "text/html; charset=utf-8");

    private static IResult Html(string html, int status = StatusCodes.Status200OK) =>
        Results.Content(html, "text/html; charset=utf-8", System.Text.Encoding.UTF8, status);

    /// <summary>Runs a page handler, turning failures into a page with one readable line.</summary>
    private static async Task<IResult> Page(HttpContext ctx, Func<Task<IResult>> work)
    {
        var state = ctx.RequestServices.GetRequiredService<DashboardState>();
        try
        {
            return await work();
        }
        catch (JobNotFoundException ex)
        {
            return Html(Pages.Html.Layout("Not found", "jobs", $"<h1>No such job</h1><p>There is no job <b>{Pages.Html.E(ex.Id)}</b> in the store (it may have been deleted). <a href=\"/\">Back to the jobs</a>.</p>", state.Csrf), StatusCodes.Status404NotFound);
        }
        catch (Exception ex) when (ex is InputException or ProviderException)
        {
            return Html(Pages.Html.Layout("Error", "jobs", $"<h1>That did not work</h1><p class=\"flash error\">{Pages.Html.E(JobRunner.Describe(ex))}</p><p><a href=\"/\">Back to the jobs</a></p>", state.Csrf), StatusCodes.Status400BadRequest);
        }
    }

    /// <summary>Runs an API handler, turning failures into <c>{"error": "..."}</c> with a fitting status.</summary>
    private static async Task<IResult> Api(HttpContext ctx, Func<Task<IResult>> work)
    {
        try
        {
            return await work();
        }
        catch (JobNotFoundException ex)
        {
            return Results.Json(new ErrorDto($"no job '{ex.Id}'"), WebJson.Default.ErrorDto, statusCode: StatusCodes.Status404NotFound);
        }
        catch (InputException ex)
        {
            return Results.Json(new ErrorDto(ex.ToUserLine()), WebJson.Default.ErrorDto, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (JobRunner.BusyException ex)
        {
            return Results.Json(new ErrorDto(ex.Message), WebJson.Default.ErrorDto, statusCode: StatusCodes.Status409Conflict);
        }
        catch (ProviderException ex)
        {
            return Results.Json(new ErrorDto(JobRunner.Describe(ex)), WebJson.Default.ErrorDto, statusCode: StatusCodes.Status502BadGateway);
        }
    }
}

/// <summary>The embedded static files.</summary>
internal static class Assets
{
    internal sealed record Asset(byte[] Bytes, string ContentType, string ETag);

    public static Dictionary<string, Asset> Load()
    {
        var asm = typeof(Assets).Assembly;
        const string prefix = "BatchPilot.Web.Assets.";
        var result = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var res in asm.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var s = asm.GetManifestResourceStream(res)!;
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            var bytes = ms.ToArray();
            var name = res[prefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                ".json" => "application/json",
                _ => "application/octet-stream",
            };
            result[name] = new Asset(bytes, type, "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..16] + "\"");
        }

        return result;
    }
}
