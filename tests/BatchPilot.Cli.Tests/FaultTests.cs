using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary>
/// Each emulator fault scenario over real loopback HTTP: the final state of every item, and the number of provider
/// batches created. Nothing is lost, nothing stays in flight, every failure carries the provider's code and message.
/// </summary>
public sealed class FaultTests
{
    private const int Rows = 30;
    private const string Prompt = "Classify {{product}}: {{review_text}}";

    private sealed record Outcome(CliResult Result, List<string[]> Rows, IReadOnlyList<EmulatedBatch> Batches, JsonElement View)
    {
        public int Count(string status) => Rows.Skip(1).Count(r => r[4] == status);

        public IEnumerable<string[]> With(string status) => Rows.Skip(1).Where(r => r[4] == status);
    }

    private static async Task<Outcome> RunAsync(FaultScenario faults, string model = "gpt-4o-mini", double batchSeconds = 0, params string[] extra)
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(batchSeconds, faults);
        var cli = new CliRunner(ws).WithEmulator(emu).With("BATCHPILOT_TOKEN_LIMIT_DELAY", "0.2").With("BATCHPILOT_CREATE_RETRY_DELAY", "0.1").With("BATCHPILOT_HTTP_RETRY_DELAY", "0.02");
        var r = await cli.RunAsync(["run", ws.WriteReviews("in.csv", Rows), "--model", model, "--prompt", Prompt, "--out", ws.PathOf("out.csv"), "--json", "--check-interval", "0.2", .. extra]);
        Assert.True(File.Exists(ws.PathOf("out.csv")), r.ToString());
        var rows = Csv.Parse(await File.ReadAllTextAsync(ws.PathOf("out.csv")));
        Assert.Equal(Rows + 1, rows.Count);
        Assert.All(rows.Skip(1), row => Assert.Contains(row[4], new[] { "succeeded", "failed", "expired", "cancelled" }));
        return new Outcome(r, rows, emu.Server.ListBatches(), JsonDocument.Parse(r.StdOut).RootElement);
    }

    private static FaultScenario Http(string method, string path, int status, int first = 2) =>
        new() { Http = [new HttpFaultRule { Method = method, Path = path, Status = status, First = first, RetryAfterMs = 20 }] };

    private static FaultScenario Batch(string kind, string? code = null, double? fraction = null, int? nth = null) =>
        new() { Seed = 3, Batches = [new BatchFaultRule { Kind = kind, Code = code, Fraction = fraction, Nth = nth }] };

    [Theory]
    [InlineData("GET", "/v1/batches/*", 429)]
    [InlineData("GET", "/v1/batches/*", 500)]
    [InlineData("GET", "/v1/batches/*", 502)]
    [InlineData("GET", "/v1/batches/*", 503)]
    [InlineData("GET", "/v1/files/*/content", 429)]
    [InlineData("GET", "/v1/batches", 500)]
    public async Task TransientHttpFaults_AreRetried_AndEveryItemSucceeds(string method, string path, int status)
    {
        var o = await RunAsync(Http(method, path, status));

        Assert.True(o.Result.ExitCode == 0, o.Result.ToString());
        Assert.Equal(Rows, o.Count("succeeded"));
        Assert.Single(o.Batches);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task TransientFaultsOnCreate_AreReconciledThenRetried_WithExactlyOneBatch(int status)
    {
        var o = await RunAsync(Http("POST", "/v1/batches", status, first: 2));

        Assert.True(o.Result.ExitCode == 0, o.Result.ToString());
        Assert.Equal(Rows, o.Count("succeeded"));
        Assert.Single(o.Batches);
    }

    [Fact]
    public async Task SlowResponses_AreWaitedFor()
    {
        var o = await RunAsync(new FaultScenario { Http = [new HttpFaultRule { Method = "*", Path = "/v1/**", DelayMs = 300, Rate = 1 }] });

        Assert.True(o.Result.ExitCode == 0, o.Result.ToString());
        Assert.Equal(Rows, o.Count("succeeded"));
        Assert.Single(o.Batches);
    }

    [Fact]
    public async Task ConnectionResetDuringUpload_IsRetried_WithExactlyOneBatch()
    {
        var o = await RunAsync(new FaultScenario { Http = [new HttpFaultRule { Method = "POST", Path = "/v1/files", Reset = true, First = 1 }] });

        Assert.True(o.Result.ExitCode == 0, o.Result.ToString());
        Assert.Equal(Rows, o.Count("succeeded"));
        Assert.Single(o.Batches);
    }

    [Fact]
    public async Task ConnectionResetDuringDownload_IsRetried()
    {
        var o = await RunAsync(new FaultScenario { Http = [new HttpFaultRule { Method = "GET", Path = "/v1/files/*/content", Reset = true, First = 1 }] });

        Assert.True(o.Result.ExitCode == 0, o.Result.ToString());
        Assert.Equal(Rows, o.Count("succeeded"));
    }

    [Fact]
    public async Task AnthropicResultsStreamDroppedOnce_IsDownloadedAgain()
    {
        var o = await RunAsync(new FaultScenario { Http = [new HttpFaultRule { Method = "GET", Path = "/v1/messages/batches/*/results", Reset = true, First = 1 }] }, "claude-haiku-4-5");

        Assert.True(o.Result.ExitCode == 0, o.Result.ToString());
        Assert.Equal(Rows, o.Count("succeeded"));
    }

    [Theory]
    [InlineData("gpt-4o-mini")]
    [InlineData("claude-haiku-4-5")]
    public async Task DownloadTruncatedEveryTime_StopsWithAProviderError_NothingIsLost(string model)
    {
        // Given a batch whose results download always breaks off half way
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(0, Batch("truncated_download", fraction: 0.5));
        var cli = new CliRunner(ws).WithEmulator(emu).With("BATCHPILOT_HTTP_RETRY_DELAY", "0.01");
        var args = new[] { "run", ws.WriteReviews("in.csv", Rows), "--model", model, "--prompt", Prompt, "--out", ws.PathOf("out.csv"), "--check-interval", "0.1" };

        // When the job runs
        var r = await cli.RunAsync(args);

        // Then it stops with a provider error (rerun later), no output, and the lines read so far are kept
        Assert.True(r.ExitCode == 4, r.ToString());
        Assert.Contains("could not be downloaded 5 times in a row", r.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(ws.PathOf("out.csv")));
        var status = JsonDocument.Parse((await cli.RunAsync("status", "in", "--json")).StdOut).RootElement;
        Assert.InRange(status.GetProperty("succeeded").GetInt32(), 0, Rows - 1);
        Assert.Equal(Rows - status.GetProperty("succeeded").GetInt32(), status.GetProperty("pending").GetInt32());
        Assert.Single(emu.Server.ListBatches());
    }

    [Fact]
    public async Task Anthropic529Overloaded_IsRetried()
    {
        var o = await RunAsync(new FaultScenario { Http = [new HttpFaultRule { Method = "GET", Path = "/v1/messages/batches/*", Status = 529, First = 2, RetryAfterMs = 20 }] }, "claude-haiku-4-5");

        Assert.True(o.Result.ExitCode == 0, o.Result.ToString());
        Assert.Equal(Rows, o.Count("succeeded"));
    }

    [Fact]
    public async Task TokenLimitExceeded_IsResubmittedAfterADelay_AndEverythingSucceeds()
    {
        var o = await RunAsync(Batch("validation_failure", code: "token_limit_exceeded", nth: 1));

        Assert.True(o.Result.ExitCode == 0, o.Result.ToString());
        Assert.Equal(Rows, o.Count("succeeded"));
        Assert.Equal(2, o.Batches.Count);
        Assert.Equal("failed", o.Batches.OrderBy(b => b.CreatedAt).First().Status);
        Assert.Contains("enqueued-token queue is full", o.Result.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxBatchTokens_SplitsBatchesToFitTheQueue()
    {
        var o = await RunAsync(FaultScenario.None, "gpt-4o-mini", 0, "--max-batch-tokens", "500");

        Assert.Equal(0, o.Result.ExitCode);
        Assert.True(o.Batches.Count >= 3, $"{o.Batches.Count} batches");
        Assert.Equal(Rows, o.Batches.Sum(b => b.RequestCount));
    }

    [Fact]
    public async Task InvalidJsonLineValidation_FailsEveryItemWithTheCodeAndLine()
    {
        var o = await RunAsync(Batch("validation_failure", code: "invalid_json_line"));

        Assert.Equal(1, o.Result.ExitCode);
        Assert.Equal(Rows, o.Count("failed"));
        Assert.All(o.With("failed"), r => Assert.StartsWith("invalid_json_line: The batch failed validation:", r[5], StringComparison.Ordinal));
        Assert.Contains("invalid_json_line [line 1]", o.Result.StdOut, StringComparison.Ordinal);
        Assert.Single(o.Batches);
    }

    [Theory]
    [InlineData("gpt-4o-mini")]
    [InlineData("claude-haiku-4-5")]
    public async Task ExpiredWithPartialResults_HarvestsTheDoneItems_AndExpiresTheRest(string model)
    {
        var o = await RunAsync(Batch("expire", fraction: 0.5), model);

        Assert.Equal(1, o.Result.ExitCode);
        Assert.InRange(o.Count("succeeded"), 1, Rows - 1);
        Assert.Equal(Rows, o.Count("succeeded") + o.Count("expired"));
        Assert.All(o.With("expired"), r => Assert.Contains("expired", r[5], StringComparison.Ordinal));
    }

    [Fact]
    public async Task CompletedWithOnlyAnErrorFile_FailsEveryItemWithTheProviderMessage()
    {
        var o = await RunAsync(Batch("only_error_file"));

        Assert.Equal(1, o.Result.ExitCode);
        Assert.Equal(Rows, o.Count("failed"));
        Assert.All(o.With("failed"), r => Assert.StartsWith("server_error: ", r[5], StringComparison.Ordinal));
    }

    [Fact]
    public async Task CompletedWithNoFiles_FailsEveryItemAsMissingResult()
    {
        var o = await RunAsync(Batch("no_output_file"));

        Assert.Equal(1, o.Result.ExitCode);
        Assert.Equal(Rows, o.Count("failed"));
        Assert.All(o.With("failed"), r => Assert.StartsWith("missing_result: The provider returned no result", r[5], StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("server_error", "server_error")]
    [InlineData("context_length_exceeded", "context_length_exceeded")]
    [InlineData("request_timeout", "request_timeout")]
    [InlineData("rate_limit_exceeded", "rate_limit_exceeded")]
    public async Task PerLineErrors_EndTheItemWithTheProviderCode(string error, string code)
    {
        var o = await RunAsync(new FaultScenario { Seed = 5, Items = [new ItemFaultRule { Error = error, Rate = 0.3 }] });

        Assert.Equal(1, o.Result.ExitCode);
        Assert.InRange(o.Count("failed"), 1, Rows - 1);
        Assert.Equal(Rows, o.Count("succeeded") + o.Count("failed"));
        Assert.All(o.With("failed"), r => Assert.StartsWith(code + ": ", r[5], StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("api_error", "api_error")]
    [InlineData("overloaded_error", "overloaded_error")]
    [InlineData("invalid_request_error", "invalid_request_error")]
    [InlineData("rate_limit_error", "rate_limit_error")]
    [InlineData("timeout_error", "timeout_error")]
    public async Task AnthropicErroredResults_EndTheItemWithTheErrorType(string error, string code)
    {
        var o = await RunAsync(new FaultScenario { Seed = 5, Items = [new ItemFaultRule { Error = error, Rate = 0.3 }] }, "claude-haiku-4-5");

        Assert.Equal(1, o.Result.ExitCode);
        Assert.InRange(o.Count("failed"), 1, Rows - 1);
        Assert.All(o.With("failed"), r => Assert.StartsWith(code + ": ", r[5], StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("malformed_lines", "unreadable result line")]
    [InlineData("missing_lines", null)]
    public async Task MalformedOrMissingLines_AreReported_AndTheirItemsFailAsMissingResult(string kind, string? warning)
    {
        var o = await RunAsync(Batch(kind, fraction: 0.3));

        Assert.Equal(1, o.Result.ExitCode);
        Assert.InRange(o.Count("failed"), 1, Rows - 1);
        Assert.All(o.With("failed"), r => Assert.StartsWith("missing_result: ", r[5], StringComparison.Ordinal));
        if (warning is not null)
        {
            Assert.Contains(warning, o.Result.StdErr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task UnknownCustomIds_AreReportedAndNeverApplied()
    {
        var o = await RunAsync(Batch("unknown_lines", fraction: 0.5));

        Assert.Equal(0, o.Result.ExitCode);
        Assert.Equal(Rows, o.Count("succeeded"));
        Assert.Contains("name no item of this batch and were ignored", o.Result.StdErr, StringComparison.Ordinal);
        for (var i = 1; i <= Rows; i++)
        {
            Assert.Contains($"Review number {i},", o.Rows[i][3], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task DuplicatedLines_AreReported_TheFirstIsKept()
    {
        var o = await RunAsync(Batch("duplicate_lines", fraction: 0.5));

        Assert.Equal(0, o.Result.ExitCode);
        Assert.Equal(Rows, o.Count("succeeded"));
        Assert.Contains("duplicated result line(s)", o.Result.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StuckInFinalizing_IsCancelled_AndPartialResultsCollected()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(0.5, Batch("stuck_finalizing"));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var id = (await cli.RunAsync("run", ws.WriteReviews("in.csv", 10), "--model", "gpt-4o-mini", "--prompt", Prompt, "--detach")).StdOut.Trim();
        await Task.Delay(1500);

        var status = await cli.RunAsync("status", id, "--refresh", "--json");
        Assert.Equal(6, status.ExitCode);
        Assert.Equal("finalizing", JsonDocument.Parse(status.StdOut).RootElement.GetProperty("batch_details")[0].GetProperty("provider_status").GetString());
        var cancel = await cli.RunAsync("cancel", id, "--wait", "20");
        var after = JsonDocument.Parse((await cli.RunAsync("status", id, "--json")).StdOut).RootElement;

        Assert.Equal(0, cancel.ExitCode);
        Assert.Equal(0, after.GetProperty("pending").GetInt32());
        Assert.Equal(10, after.GetProperty("succeeded").GetInt32() + after.GetProperty("cancelled").GetInt32());
    }

    [Fact]
    public async Task Resume_SkipsInvalidRequests_UnlessIncludeInvalid()
    {
        using var ws = new TempWorkspace();
        var faults = new FaultScenario
        {
            Seed = 11,
            Items =
            [
                new ItemFaultRule { Error = "context_length_exceeded", CustomIds = ["row-2", "row-4"] },
                new ItemFaultRule { Error = "server_error", CustomIds = ["row-3"], FirstAttemptOnly = true },
            ],
        };
        await using var emu = await EmulatorHost.StartAsync(0, faults);
        var cli = new CliRunner(ws).WithEmulator(emu);
        var run = await cli.RunAsync("run", ws.WriteReviews("in.csv", 6), "--model", "gpt-4o-mini", "--prompt", Prompt, "--json");
        var id = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;
        Assert.Equal(3, JsonDocument.Parse(run.StdOut).RootElement.GetProperty("failed").GetInt32());

        var resume = await cli.RunAsync("resume", id, "--json");
        Assert.Equal(["row-3"], emu.Server.ListBatches().OrderBy(b => b.CreatedAt).Last().CustomIds);
        Assert.Equal(2, JsonDocument.Parse(resume.StdOut).RootElement.GetProperty("failed").GetInt32());

        var again = await cli.RunAsync("resume", id, "--include-invalid", "--json");
        Assert.Equal(["row-2", "row-4"], emu.Server.ListBatches().OrderBy(b => b.CreatedAt).Last().CustomIds.OrderBy(x => x));
        Assert.Equal(1, again.ExitCode);
        Assert.Equal(3, emu.Server.ListBatches().Count);
    }
}
