using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// <c>batchpilot serve</c> as a user starts it: the real command tree with its configuration file, the built-in
/// emulator, and the dashboard's JSON API over loopback. The dashboard's own tests build its options by hand; these
/// check that the CLI hands it the configuration's prices and daily budget.
/// </summary>
public sealed class ServeCommandTests
{
    /// <summary>$1 per output token, nothing for input, in both modes: an estimate is max tokens × items dollars.</summary>
    private const string Config = """
        prices:
          gpt-4o-mini: { input: 0, cached_input: 0, output: 1000000, batch_input: 0, batch_output: 1000000 }
        budget:
          daily_usd: 150
        """;

    [Fact]
    public async Task Serve_PricesJobsAtTheConfiguredPrices_AndHoldsBackABatchThatWouldPassTheDailyBudget()
    {
        // Given a configuration with its own prices and a daily budget, and `batchpilot serve --emulator` started with it
        using var ws = new TempWorkspace();
        Directory.CreateDirectory(ws.PathOf("config"));
        File.WriteAllText(ws.PathOf("config/user.yaml"), Config);
        Directory.CreateDirectory(ws.PathOf("in"));
        ws.WriteReviews("in/reviews.csv", 5);
        var port = FreePort();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        using var errors = new StringWriter();
        var env = new CliApp.Environment(TextWriter.Null, TextWriter.Synchronized(errors), ws.Root, name => name switch
        {
            "BATCHPILOT_HOME" => ws.PathOf("home"),
            "BATCHPILOT_DB" => ws.PathOf("jobs.db"),
            "CI" => "true",
            _ => null,
        }, Interactive: false, TimeProvider.System);
        var serve = CliApp.RunAsync(["serve", "--emulator", "--urls", $"http://127.0.0.1:{port}", "--allowed-folder", ws.PathOf("in"), "--poll-interval", "0.2"], env, stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var csrf = await CsrfAsync(http, serve, errors);

            // When a job is created from the API, runs, and then a second one asks for more than the day has left
            var first = await CreateAsync(http, csrf, "Classify: {{review_text}}");
            var done = (await PollAsync(http, first, d => d.GetProperty("job").GetProperty("status").GetString() == "Completed")).GetProperty("job");
            var second = await CreateAsync(http, csrf, "Summarize: {{review_text}}");
            var held = await PollAsync(http, second, j => j.GetProperty("budget").GetProperty("stop").ValueKind == JsonValueKind.String);

            // Then the first cost its output tokens at the configured $1 each (the built-in price would make it a fraction of a cent)
            var outputTokens = done.GetProperty("output_tokens").GetInt64();
            Assert.True(outputTokens > 0, done.ToString());
            Assert.Equal(outputTokens, done.GetProperty("cost_usd").GetDecimal());

            // And the second sent nothing, held back by the configured daily budget
            var spent = outputTokens.ToString("0.00", CultureInfo.InvariantCulture);
            Assert.StartsWith($"Budget stop: the daily budget of $150.00 (budget.daily_usd) would be passed: ${spent} spent", held.GetProperty("budget").GetProperty("stop").GetString(), StringComparison.Ordinal);
            var job = held.GetProperty("job");
            Assert.Equal((0L, 5L), (job.GetProperty("succeeded").GetInt64(), job.GetProperty("pending").GetInt64() + job.GetProperty("in_batch").GetInt64()));
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAny(serve, Task.Delay(TimeSpan.FromSeconds(30)));
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The anti-forgery token, once the dashboard answers (the server is given 60 s to start).</summary>
    private static async Task<string> CsrfAsync(HttpClient http, Task<int> serve, StringWriter errors)
    {
        for (var i = 0; i < 300; i++)
        {
            Assert.False(serve.IsCompleted, $"serve exited with {(serve.IsCompleted ? serve.Result : 0)}: {errors}");
            try
            {
                var body = await http.GetFromJsonAsync<JsonElement>("api/csrf");
                return body.EnumerateObject().First().Value.GetString()!;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(200);
            }
        }

        throw new TimeoutException("the dashboard did not answer within 60 s");
    }

    private static async Task<string> CreateAsync(HttpClient http, string csrf, string prompt)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/jobs")
        {
            Content = JsonContent.Create(new Dictionary<string, object> { ["input"] = "folder:reviews.csv", ["model"] = "gpt-4o-mini", ["prompt"] = prompt, ["max_tokens"] = 20 }),
        };
        request.Headers.Add("X-CSRF-Token", csrf);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>The job's detail as the API shows it (job, batches, budget…), once <paramref name="ready"/> holds (within 60 s).</summary>
    private static async Task<JsonElement> PollAsync(HttpClient http, string id, Func<JsonElement, bool> ready)
    {
        var job = default(JsonElement);
        for (var i = 0; i < 300; i++)
        {
            job = await http.GetFromJsonAsync<JsonElement>($"api/jobs/{id}");
            if (ready(job))
            {
                return job;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"job {id} did not get there within 60 s: {job}");
    }
}
