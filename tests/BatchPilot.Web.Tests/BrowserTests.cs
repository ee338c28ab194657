using BatchPilot.Emulator;
using BatchPilot.Testing;
using Microsoft.Playwright;

namespace BatchPilot.Web.Tests;

/// <summary>
/// The dashboard in a real headless Chromium (Debian's chromium package; Playwright never downloads a browser).
/// Under CI=true a missing chromium fails the tests; elsewhere they pass without running.
/// </summary>
public sealed class BrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    /// <summary>A headless Chromium, or null (the test passes without running) when it is missing outside CI.</summary>
    private static async Task<BrowserSession?> LaunchAsync()
    {
        if (!File.Exists(Chromium))
        {
            Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
                "chromium is missing: install it with 'apt-get install -y chromium' (.ci/run does)");
            return null;
        }

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var pw = await Playwright.CreateAsync();
        var browser = await pw.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        return new BrowserSession(pw, browser);
    }

    /// <summary>Playwright and its browser, closed together.</summary>
    private sealed class BrowserSession(IPlaywright playwright, IBrowser browser) : IAsyncDisposable
    {
        /// <summary>A page the size of a laptop screen whose waits are bounded generously (a loaded 2-core machine is slow).</summary>
        public async Task<IPage> NewPageAsync(bool downloads = false)
        {
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 }, AcceptDownloads = downloads });
            page.SetDefaultTimeout(60_000);
            return page;
        }

        public async ValueTask DisposeAsync()
        {
            await browser.DisposeAsync();
            playwright.Dispose();
        }
    }

    private static string ImagesDir()
    {
        var path = RepositoryRoot.PathOf("docs", "images");
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public async Task NewJobPage_LaunchesAJob_WhoseProgressReaches100PercentWithoutReloading()
    {
        await using var browser = await LaunchAsync();
        if (browser is null)
        {
            return;
        }

        await using var host = await WebHost.StartAsync(batchSeconds: 3);
        var csv = host.Workspace.Write("reviews.csv", WebHost.ReviewsCsv(40));
        var page = await browser.NewPageAsync(downloads: true);

        // Given the New job page with a file, a prompt and a model
        await page.GotoAsync(host.Dashboard.BaseAddress + "new");
        await page.SetInputFilesAsync("[data-testid=file]", csv);
        await Assertions.Expect(page.Locator("[data-testid=columns] button")).ToHaveCountAsync(3);
        await page.FillAsync("[data-testid=name]", "Product reviews");
        await page.FillAsync("[data-testid=prompt]", "Classify the sentiment of this review of {{product}}: {{review_text}}");
        await page.FillAsync("[data-testid=max_tokens]", "60");
        await Assertions.Expect(page.Locator("[data-testid=preview-request]")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("[data-testid=estimate-batch]")).ToContainTextAsync("$");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ImagesDir(), "new-job.png"), FullPage = true });

        // When it is launched
        await page.ClickAsync("[data-testid=launch]");
        await page.WaitForURLAsync("**/jobs/job-*");
        var jobUrl = page.Url;
        await Assertions.Expect(page.Locator("[data-testid=flash]")).ToContainTextAsync("launched");
        await page.EvaluateAsync("window.__marker = 'no reload'");

        // Then its progress bar reaches 100 % by itself, on the same page load
        await Assertions.Expect(page.Locator("[data-testid=job-progress]")).ToContainTextAsync("(100 %)", new LocatorAssertionsToContainTextOptions { Timeout = 120_000 });
        Assert.Equal("no reload", await page.EvaluateAsync<string>("window.__marker"));
        await Assertions.Expect(page.Locator("[data-testid=job-status]")).ToHaveTextAsync("Completed");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ImagesDir(), "job-detail.png"), FullPage = true });

        // And the jobs page lists it, with its charts
        await page.GotoAsync(host.Dashboard.BaseAddress.ToString());
        await Assertions.Expect(page.Locator("[data-testid=jobs-table]")).ToContainTextAsync("Product reviews");
        await Assertions.Expect(page.Locator("[data-testid=jobs-table]")).ToContainTextAsync("40/40 (100 %)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ImagesDir(), "jobs.png"), FullPage = true });

        // And each export downloads
        await page.GotoAsync(jobUrl);
        foreach (var format in new[] { "csv", "jsonl", "md", "docx", "xlsx" })
        {
            var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync($"[data-testid=export-{format}]"));
            var saved = host.Workspace.PathOf("download." + format);
            await download.SaveAsAsync(saved);
            Assert.EndsWith("." + format, download.SuggestedFilename, StringComparison.Ordinal);
            Assert.True(new FileInfo(saved).Length > 20, format);
        }

        // And delete asks for confirmation, then removes the job
        await page.ClickAsync("[data-testid=delete]");
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync("Delete job Product reviews?");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ImagesDir(), "delete-confirm.png") });
        await page.ClickAsync("[data-testid=confirm-delete]");
        await Assertions.Expect(page.Locator("[data-testid=flash]")).ToContainTextAsync("deleted");
        await Assertions.Expect(page.Locator("[data-testid=jobs-table]")).Not.ToContainTextAsync("Product reviews");
    }

    [Fact]
    public async Task NewJobPage_WithABudgetAndNoCache_HoldsTheBatch_AndTheJobPageRaisesTheBudget()
    {
        await using var browser = await LaunchAsync();
        if (browser is null)
        {
            return;
        }

        await using var host = await WebHost.StartAsync();
        var csv = host.Workspace.Write("budget.csv", WebHost.ReviewsCsv(8));
        var page = await browser.NewPageAsync();

        // Given the New job page with a budget far below the estimate, and "no cache"
        await page.GotoAsync(host.Dashboard.BaseAddress + "new");
        await page.SetInputFilesAsync("[data-testid=file]", csv);
        await Assertions.Expect(page.Locator("[data-testid=columns] button")).ToHaveCountAsync(3);
        await page.FillAsync("[data-testid=prompt]", "Classify {{review_text}}");
        await page.FillAsync("[data-testid=budget_usd]", "0.000001");
        await page.CheckAsync("[data-testid=no-cache]");

        // When it is launched
        await page.ClickAsync("[data-testid=launch]");
        await page.WaitForURLAsync("**/jobs/job-*");

        // Then the page shows the budget and, by itself, why the batch is held back
        await Assertions.Expect(page.Locator("[data-testid=budget]")).ToContainTextAsync("$0.000001: $0.00 used");
        await Assertions.Expect(page.Locator("[data-testid=budget-stop]")).ToContainTextAsync("the job budget of $0.000001 would be passed", new LocatorAssertionsToContainTextOptions { Timeout = 120_000 });
        await Assertions.Expect(page.Locator("[data-testid=activity]")).ToContainTextAsync("No cache: every request is sent");

        // When the budget is raised with the page's form
        await page.FillAsync("[data-testid=budget-input]", "5");
        await page.ClickAsync("[data-testid=set-budget]");

        // Then the held batch goes and the job completes within the new budget
        await Assertions.Expect(page.Locator("[data-testid=flash]")).ToContainTextAsync("Budget set to $5");
        await Assertions.Expect(page.Locator("[data-testid=job-status]")).ToHaveTextAsync("Completed", new LocatorAssertionsToHaveTextOptions { Timeout = 120_000 });
        await Assertions.Expect(page.Locator("[data-testid=budget-stop]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-testid=budget]")).ToContainTextAsync("$5.00:");
    }

    [Fact]
    public async Task NewJobPage_InSyncMode_ShowsTheSyncLimits_AndRunsThroughTheSynchronousApi()
    {
        await using var browser = await LaunchAsync();
        if (browser is null)
        {
            return;
        }

        await using var host = await WebHost.StartAsync();
        File.WriteAllText(host.Workspace.PathOf("inputs/tickets.csv"), WebHost.ReviewsCsv(12));
        var page = await browser.NewPageAsync();

        // Given the New job page with a file picked from the allowed folder
        await page.GotoAsync(host.Dashboard.BaseAddress + "new");
        await page.SelectOptionAsync("[data-testid=folder-file]", "folder:tickets.csv");
        await Assertions.Expect(page.Locator("[data-testid=columns] button")).ToHaveCountAsync(3);
        await page.FillAsync("[data-testid=prompt]", "Answer the ticket about {{product}}: {{review_text}}");
        await Assertions.Expect(page.Locator("[data-testid=sync-limits]")).ToBeHiddenAsync();

        // When sync mode is chosen, with a rate limit
        await page.CheckAsync("[data-testid=mode-sync]");
        await Assertions.Expect(page.Locator("[data-testid=sync-limits]")).ToBeVisibleAsync();
        await page.FillAsync("[data-testid=requests_per_minute]", "6000");
        await Assertions.Expect(page.Locator("[data-testid=estimate-sync]")).ToContainTextAsync("$");
        await page.ClickAsync("[data-testid=launch]");

        // Then the job runs through the synchronous API to the end, and says so
        await page.WaitForURLAsync("**/jobs/job-*");
        await Assertions.Expect(page.Locator("[data-testid=job-progress]")).ToContainTextAsync("12/12 (100 %)", new LocatorAssertionsToContainTextOptions { Timeout = 120_000 });
        await Assertions.Expect(page.Locator("[data-testid=job-status]")).ToHaveTextAsync("Completed");
        await Assertions.Expect(page.Locator("[data-testid=job-mode]")).ToHaveTextAsync("sync");
        Assert.Equal(12, host.Emulator.Server.Counters["POST /v1/chat/completions"]);
        Assert.Equal(0, host.Emulator.Server.Counters["POST /v1/batches"]);
    }

    [Fact]
    public async Task JobPage_ResumeAfterInjectedFailures_CompletesTheJob()
    {
        await using var browser = await LaunchAsync();
        if (browser is null)
        {
            return;
        }

        var faults = new FaultScenario { Items = [new ItemFaultRule { Error = "server_error", Rate = 0.3, FirstAttemptOnly = true }] };
        await using var host = await WebHost.StartAsync(batchSeconds: 1, faults: faults);
        var id = await host.CreateJobAsync(30, name: "flaky");
        await host.WaitForStatusAsync(id, "CompletedWithErrors");
        var page = await browser.NewPageAsync();

        // Given the job page showing failed items and their diagnosis
        await page.GotoAsync(host.Dashboard.BaseAddress + "jobs/" + id);
        await Assertions.Expect(page.Locator("[data-testid=job-status]")).ToHaveTextAsync("Completed with errors");
        await Assertions.Expect(page.Locator("[data-testid=diagnosis]")).ToContainTextAsync("server_error");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ImagesDir(), "job-diagnosis.png"), FullPage = true });

        // When the user clicks Resume
        await page.ClickAsync("[data-testid=resume]");

        // Then the failed items go out again and the page shows the job complete without a reload
        await Assertions.Expect(page.Locator("[data-testid=flash]")).ToContainTextAsync("will be sent again");
        await Assertions.Expect(page.Locator("[data-testid=job-status]")).ToHaveTextAsync("Completed", new LocatorAssertionsToHaveTextOptions { Timeout = 120_000 });
        await Assertions.Expect(page.Locator("[data-testid=job-progress]")).ToContainTextAsync("30/30 (100 %)");
        await Assertions.Expect(page.Locator("[data-testid=count-failed]")).ToHaveTextAsync("0 / 0 / 0");
    }
}
