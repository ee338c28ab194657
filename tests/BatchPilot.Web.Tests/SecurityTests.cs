using System.Net;
using System.Text;

namespace BatchPilot.Web.Tests;

public sealed class SecurityTests
{
    [Fact]
    public async Task NonLoopbackBinding_GeneratesAToken_AndRequiresItOnEveryRequest()
    {
        // Given a dashboard bound to every address with no token given
        await using var host = await WebHost.StartAsync(urls: "http://0.0.0.0:0");
        var token = host.Dashboard.Token;
        Assert.False(string.IsNullOrEmpty(token));

        // When requests come without, with a wrong, and with the right token
        using var page = await host.Http.GetAsync(new Uri("/", UriKind.Relative));
        using var api = await host.Http.GetAsync(new Uri("/api/jobs", UriKind.Relative));
        using var css = await host.Http.GetAsync(new Uri("/static/app.css", UriKind.Relative));
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/jobs");
        wrong.Headers.Add("Authorization", "Bearer nope");
        using var wrongResp = await host.Http.SendAsync(wrong);
        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/jobs");
        bearer.Headers.Add("Authorization", "Bearer " + token);
        using var bearerResp = await host.Http.SendAsync(bearer);
        using var link = await host.Http.GetAsync(new Uri("/?token=" + Uri.EscapeDataString(token!), UriKind.Relative));
        using var afterCookie = await host.Http.GetAsync(new Uri("/", UriKind.Relative));

        // Then only the token opens it; the printed link sets a cookie and drops the token from the address
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        Assert.Contains("access token", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, css.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongResp.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bearerResp.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, link.StatusCode);
        Assert.Equal("/", link.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.OK, afterCookie.StatusCode);
    }

    [Fact]
    public async Task LoopbackBinding_NeedsNoToken_ButRefusesForeignHostHeaders()
    {
        await using var host = await WebHost.StartAsync();
        Assert.Null(host.Dashboard.Token);

        using var ok = await host.Http.GetAsync(new Uri("/", UriKind.Relative));
        using var rebinding = new HttpRequestMessage(HttpMethod.Get, "/api/csrf");
        rebinding.Headers.Host = "attacker.example";
        using var refused = await host.Http.SendAsync(rebinding);

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task Post_WithoutTheAntiForgeryToken_IsRefused()
    {
        // Given a job
        await using var host = await WebHost.StartAsync();
        var id = await host.CreateJobAsync(2);

        // When state-changing requests come without the token (a cross-site form post), with a wrong one, and with it
        using var form = await host.Http.PostAsync(new Uri($"/jobs/{id}/delete", UriKind.Relative), new FormUrlEncodedContent([new("force", "true")]));
        using var wrongForm = await host.Http.PostAsync(new Uri($"/jobs/{id}/delete", UriKind.Relative), new FormUrlEncodedContent([new("_csrf", "guess")]));
        using var api = await host.PostJsonAsync($"/api/jobs/{id}/cancel", "{}", csrf: false);
        using var apiDelete = await host.PostJsonAsync($"/api/jobs/{id}", "{}", csrf: false, method: HttpMethod.Delete);
        using var plain = await host.Http.PostAsync(new Uri("/collect-all", UriKind.Relative), new StringContent("x", Encoding.UTF8, "text/plain"));
        var stillThere = await host.Store.GetJobAsync(id);
        using var accepted = await host.Http.PostAsync(new Uri($"/jobs/{id}/refresh", UriKind.Relative), new FormUrlEncodedContent([new("_csrf", await host.CsrfAsync())]));

        // Then every one without the right token is refused and changes nothing
        Assert.Equal(HttpStatusCode.Forbidden, form.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, wrongForm.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, api.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, apiDelete.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, plain.StatusCode);
        Assert.NotNull(stillThere);
        Assert.Equal(HttpStatusCode.Redirect, accepted.StatusCode);
    }

    [Fact]
    public async Task NoPageResponseOrLog_ContainsTheApiKey()
    {
        // Given a batch job and a sync job run to their end with failures (error messages included), then resumed
        var faults = new BatchPilot.Emulator.FaultScenario { Items = [new BatchPilot.Emulator.ItemFaultRule { Error = "server_error", Rate = 0.3 }] };
        await using var host = await WebHost.StartAsync(faults: faults);
        var id = await host.CreateJobAsync(10);
        var syncId = await host.CreateJobAsync(5, name: "sync-reviews", mode: "sync");
        await host.WaitForStatusAsync(id, "Completed", "CompletedWithErrors");
        await host.WaitForStatusAsync(syncId, "Completed", "CompletedWithErrors");
        var bodies = new List<string>();
        foreach (var action in new[] { $"/api/jobs/{id}/resume", $"/api/jobs/{id}/refresh", $"/api/jobs/{syncId}/resume", "/api/collect-all" })
        {
            using var resp = await host.PostJsonAsync(action, "{}");
            bodies.Add(action + "\n" + resp.Headers + await resp.Content.ReadAsStringAsync());
        }

        await host.WaitForStatusAsync(id, "Completed", "CompletedWithErrors");
        await host.WaitForStatusAsync(syncId, "Completed", "CompletedWithErrors");

        // When every page, API response and download is fetched (Word and Excel files unzipped)
        foreach (var path in new[]
        {
            "/", "/new", "/api/docs", $"/jobs/{id}", $"/jobs/{id}?status=failed", $"/jobs/{id}/delete", $"/jobs/{syncId}", "/api/jobs", $"/api/jobs/{id}", $"/api/jobs/{syncId}",
            $"/api/jobs/{id}/items?limit=1000", $"/api/jobs/{syncId}/items", $"/api/jobs/{id}/diagnosis", "/api/stats", "/api/openapi.json", "/api/csrf",
            $"/jobs/{id}/export?format=csv", $"/jobs/{id}/export?format=jsonl", $"/jobs/{id}/export?format=md", $"/jobs/{id}/export?format=docx", $"/jobs/{syncId}/export?format=xlsx",
            "/static/app.js", "/jobs/nosuch", "/api/jobs/nosuch",
        })
        {
            using var resp = await host.Http.GetAsync(new Uri(path, UriKind.Relative));
            var bytes = await resp.Content.ReadAsByteArrayAsync();
            bodies.Add(path + "\n" + resp.Headers + resp.Content.Headers + (bytes is [(byte)'P', (byte)'K', ..] ? Unzipped(bytes) : Encoding.UTF8.GetString(bytes)));
        }

        // Then the key is nowhere, not even a recognisable part of it: not in a response, a log line, the store or a file
        host.Store.Dispose();
        foreach (var file in Directory.EnumerateFiles(host.Workspace.Root, "*", SearchOption.AllDirectories))
        {
            bodies.Add(file + "\n" + Encoding.UTF8.GetString(File.ReadAllBytes(file)));
        }

        foreach (var body in bodies.Concat(host.Logs.Lines))
        {
            Assert.DoesNotContain("SECRETkey", body, StringComparison.Ordinal);
        }

        Assert.NotEmpty(host.Logs.Lines);
        Assert.Contains(bodies, b => b.Contains("Resumed", StringComparison.Ordinal));
    }

    private static string Unzipped(byte[] zip)
    {
        using var archive = new System.IO.Compression.ZipArchive(new MemoryStream(zip));
        var sb = new StringBuilder();
        foreach (var entry in archive.Entries)
        {
            using var reader = new StreamReader(entry.Open());
            sb.Append(entry.FullName).Append('\n').Append(reader.ReadToEnd());
        }

        Assert.True(sb.Length > 100);
        return sb.ToString();
    }

    [Fact]
    public async Task Uploads_AreSizeLimited_AndInputsCannotEscapeTheirFolders()
    {
        await using var host = await WebHost.StartAsync(maxUpload: 1024);
        File.WriteAllText(host.Workspace.PathOf("secret.csv"), "a\n1\n");
        File.WriteAllText(host.Workspace.PathOf("inputs/ok.csv"), "a\n1\n");

        using var content = new MultipartFormDataContent { { new ByteArrayContent(new byte[4096]), "file", "big.csv" } };
        using var req = new HttpRequestMessage(HttpMethod.Post, "/api/uploads") { Content = content };
        req.Headers.Add("X-CSRF-Token", await host.CsrfAsync());
        using var big = await host.Http.SendAsync(req);
        using var escape = await host.Http.GetAsync(new Uri("/api/inputs?input=" + Uri.EscapeDataString("folder:../secret.csv"), UriKind.Relative));
        using var absolute = await host.Http.GetAsync(new Uri("/api/inputs?input=" + Uri.EscapeDataString("folder:" + host.Workspace.PathOf("secret.csv")), UriKind.Relative));
        using var uploadEscape = await host.Http.GetAsync(new Uri("/api/inputs?input=" + Uri.EscapeDataString("upload:../../jobs.db"), UriKind.Relative));
        using var ok = await host.Http.GetAsync(new Uri("/api/inputs?input=folder:ok.csv", UriKind.Relative));
        var name = await host.UploadAsync("../../evil name.csv", "a\n1\n");

        // Symbolic links inside the folder that lead out of it, to a file or to a folder, are neither listed nor opened
        File.CreateSymbolicLink(host.Workspace.PathOf("inputs/link.csv"), host.Workspace.PathOf("secret.csv"));
        Directory.CreateSymbolicLink(host.Workspace.PathOf("inputs/outside"), host.Workspace.Root);
        var refusedLinks = new List<HttpStatusCode>();
        foreach (var reference in new[] { "folder:link.csv", "folder:outside/secret.csv", "folder:outside/inputs/ok.csv", "folder:./../secret.csv", "folder:sub/../../secret.csv", "folder:" })
        {
            using var resp = await host.Http.GetAsync(new Uri("/api/inputs?input=" + Uri.EscapeDataString(reference), UriKind.Relative));
            refusedLinks.Add(resp.StatusCode);
        }

        var newPage = await host.Http.GetStringAsync(new Uri("/new", UriKind.Relative));
        using var launch = await host.PostJsonAsync("/api/jobs", """{"input":"folder:outside/secret.csv","model":"gpt-4o-mini","prompt":"{{a}}"}""");

        Assert.Contains("bytes", await big.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(big.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(HttpStatusCode.BadRequest, escape.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, absolute.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, uploadEscape.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.All(refusedLinks, code => Assert.Equal(HttpStatusCode.BadRequest, code));
        Assert.Contains(">ok.csv<", newPage, StringComparison.Ordinal);
        Assert.DoesNotContain("link.csv", newPage, StringComparison.Ordinal);
        Assert.DoesNotContain("secret.csv", newPage, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, launch.StatusCode);
        Assert.Empty(await host.Store.ListJobsAsync(10));
        Assert.Matches("^upload:[0-9a-f]{32}$", name);
        Assert.All(Directory.GetFiles(host.Workspace.PathOf("data/uploads")), f => Assert.Matches("^[0-9a-f]{32}\\.(csv|name)$", Path.GetFileName(f)));
    }
}
