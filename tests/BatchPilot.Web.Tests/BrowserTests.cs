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

    private static async Task<(IPlaywright, IBrowser)?> LaunchAsync()
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
        return (pw, browser);
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
        var launched = await LaunchAsync();
        if (launched is not var (pw, browser))
        {
            return;
        }

        using var _ = pw;
        await using var __ = browser;
        await using var host = await WebHost.StartAsync(batchSeconds: 3);
        var csv = host.Workspace.Write("reviews.csv", WebHost.ReviewsCsv(40));
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 }, AcceptDownloads = true });
        page.SetDefaultTimeout(30_000);

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
        await Assertions.Expect(page.Locator("[data-testid=job-progress]")).ToContainTextAsync("(100 %)", new LocatorAssertionsToContainTextOptions { Timeout = 60_000 });
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
        foreach (var format in new[] { "csv", "jsonl", "md", "docx" })
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
    public async Task JobPage_ResumeAfterInjectedFailures_CompletesTheJob()
    {
        var launched = await LaunchAsync();
        if (launched is not var (pw, browser))
        {
            return;
        }

        using var _ = pw;
        await using var __ = browser;
        var faults = new FaultScenario { Items = [new ItemFaultRule { Error = "server_error", Rate = 0.3, FirstAttemptOnly = true }] };
        await using var host = await WebHost.StartAsync(batchSeconds: 1, faults: faults);
        var id = await host.CreateJobAsync(30, name: "flaky");
        await host.WaitForStatusAsync(id, "CompletedWithErrors");
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        page.SetDefaultTimeout(30_000);

        // Given the job page showing failed items and their diagnosis
        await page.GotoAsync(host.Dashboard.BaseAddress + "jobs/" + id);
        await Assertions.Expect(page.Locator("[data-testid=job-status]")).ToHaveTextAsync("Completed with errors");
        await Assertions.Expect(page.Locator("[data-testid=diagnosis]")).ToContainTextAsync("server_error");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ImagesDir(), "job-diagnosis.png"), FullPage = true });

        // When the user clicks Resume
        await page.ClickAsync("[data-testid=resume]");

        // Then the failed items go out again and the page shows the job complete without a reload
        await Assertions.Expect(page.Locator("[data-testid=flash]")).ToContainTextAsync("will be sent again");
        await Assertions.Expect(page.Locator("[data-testid=job-status]")).ToHaveTextAsync("Completed", new LocatorAssertionsToHaveTextOptions { Timeout = 60_000 });
        await Assertions.Expect(page.Locator("[data-testid=job-progress]")).ToContainTextAsync("30/30 (100 %)");
        await Assertions.Expect(page.Locator("[data-testid=count-failed]")).ToHaveTextAsync("0 / 0 / 0");
    }
}
