using System.Text.Json;
using BatchPilot.Emulator;
using BatchPilot.Operations;
using BatchPilot.Storage.Sqlite;
using BatchPilot.Testing;

namespace BatchPilot.Cli.Tests;

/// <summary><c>batchpilot diagnose</c> over jobs run for real against the emulator with injected faults.</summary>
public sealed class DiagnoseCommandTests
{
    private const string Prompt = "Classify {{product}}: {{review_text}}";

    [Fact]
    public async Task Diagnose_ItemFailures_GroupsByCodeWithSampleIdsRateAndActions()
    {
        // Given a job of 6 rows where rows 2 and 4 get a server error and row 3 is too long for the model
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["items:error=server_error:ids=row-2,row-4", "items:context_length_exceeded:ids=row-3"]));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var id = await RunJobAsync(cli, ws, 6, "gpt-4o-mini", expectedExit: 1);

        // When it is diagnosed
        var r = await cli.RunAsync("diagnose", id, "--json");

        // Then the diagnosis ran (exit 0) and groups the failures by code, largest first, with what to do
        Assert.True(r.ExitCode == 0, r.ToString());
        var d = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal($"Job {id} is CompletedWithErrors: 3 of 6 items succeeded, 3 did not (50%) in 2 error groups.", d.GetProperty("summary").GetString());
        Assert.Equal(0.5, d.GetProperty("failure_rate").GetDouble());
        Assert.Equal(3, d.GetProperty("items").GetProperty("failed").GetInt64());

        var groups = d.GetProperty("error_groups").EnumerateArray().ToList();
        Assert.Equal(2, groups.Count);
        var server = groups[0];
        Assert.Equal("server_error", server.GetProperty("code").GetString());
        Assert.Equal("transient", server.GetProperty("family").GetString());
        Assert.Equal(2, server.GetProperty("count").GetInt64());
        Assert.Equal(0.3333, server.GetProperty("rate").GetDouble());
        Assert.Equal(["row-2", "row-4"], Strings(server.GetProperty("custom_ids")));
        Assert.Equal(0, server.GetProperty("more_custom_ids").GetInt64());
        Assert.Equal("The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error.", server.GetProperty("sample_message").GetString());
        Assert.True(server.GetProperty("resumed_by_default").GetBoolean());
        Assert.Equal("resume", server.GetProperty("action").GetProperty("kind").GetString());
        Assert.Equal($"batchpilot resume {id}", server.GetProperty("action").GetProperty("command").GetString());
        Assert.Equal($"The provider had a server error on these requests. A retry usually works: 'batchpilot resume {id}' sends only these items again, as a new batch.", server.GetProperty("action").GetProperty("text").GetString());

        var context = groups[1];
        Assert.Equal("context_length_exceeded", context.GetProperty("code").GetString());
        Assert.Equal("context_length", context.GetProperty("family").GetString());
        Assert.Equal(["row-3"], Strings(context.GetProperty("custom_ids")));
        Assert.False(context.GetProperty("resumed_by_default").GetBoolean());
        Assert.Equal("fix_input", context.GetProperty("action").GetProperty("kind").GetString());
        Assert.Equal($"batchpilot resume {id} --include-invalid", context.GetProperty("action").GetProperty("command").GetString());
        Assert.Equal(
            $"The prompt is longer than gpt-4o-mini's context window. Shorten these rows' text or the prompt (or use a model with a larger context window), then send them again with a new 'batchpilot run' ('batchpilot resume {id} --include-invalid' resends them unchanged).",
            context.GetProperty("action").GetProperty("text").GetString());

        var batch = d.GetProperty("batches")[0];
        Assert.Equal("completed", batch.GetProperty("provider_status").GetString());
        Assert.Equal("Collected", batch.GetProperty("state").GetString());
        Assert.Equal(3, batch.GetProperty("items_failed").GetInt64());
        Assert.Equal(0.5, batch.GetProperty("failure_rate").GetDouble());
        Assert.True(batch.TryGetProperty("submitted_at", out _));
        Assert.True(batch.TryGetProperty("ended_at", out _));

        var actions = d.GetProperty("actions").EnumerateArray().Select(a => (a.GetProperty("kind").GetString(), a.GetProperty("text").GetString())).ToList();
        Assert.Equal(2, actions.Count);
        Assert.Equal("fix_input", actions[0].Item1);
        Assert.StartsWith("1 item with context_length_exceeded: The prompt is longer", actions[0].Item2, StringComparison.Ordinal);
        Assert.Equal(("resume", $"2 items failed for reasons a retry can fix (server_error): 'batchpilot resume {id}' sends them again."), actions[1]);
    }

    [Fact]
    public async Task Diagnose_HumanOutput_ShowsTablesAndNumberedActions()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["items:error=rate_limit_exceeded:ids=row-1"]));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var id = await RunJobAsync(cli, ws, 3, "gpt-4o-mini", expectedExit: 1);

        var r = await cli.RunAsync("diagnose", id);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(string.Empty, r.StdErr);
        Assert.Contains("Failed items by error code", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("rate_limit_exceeded", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("Failure rate", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"1. [resume] 1 item failed for reasons a retry can fix (rate_limit_exceeded): 'batchpilot resume {id}' sends them again.", r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diagnose_FailedValidation_GivesTheInputLineItsCustomIdAndSourceRow()
    {
        // Given a batch the provider fails at validation, naming line 3 of the input file
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["batch:validation_failure:code=invalid_json_line:line=3"]));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var id = await RunJobAsync(cli, ws, 5, "gpt-4o-mini", expectedExit: 1);

        var r = await cli.RunAsync("diagnose", id, "--json");

        // Then line 3 is the third request: custom_id row-3, from spreadsheet row 4 (the header is row 1)
        Assert.True(r.ExitCode == 0, r.ToString());
        var batch = JsonDocument.Parse(r.StdOut).RootElement.GetProperty("batches")[0];
        Assert.Equal("failed", batch.GetProperty("provider_status").GetString());
        Assert.Equal("The batch failed validation at the provider; none of its requests ran.", batch.GetProperty("problem").GetString());
        var error = Assert.Single(batch.GetProperty("validation_errors").EnumerateArray());
        Assert.Equal("invalid_json_line", error.GetProperty("code").GetString());
        Assert.Equal("This line is not parseable as valid JSON.", error.GetProperty("message").GetString());
        Assert.Equal(3, error.GetProperty("line").GetInt32());
        Assert.Equal("row-3", error.GetProperty("custom_id").GetString());
        Assert.Equal(4, error.GetProperty("source_row").GetInt64());
        var group = Assert.Single(JsonDocument.Parse(r.StdOut).RootElement.GetProperty("error_groups").EnumerateArray());
        Assert.Equal(5, group.GetProperty("count").GetInt64());
        Assert.Equal("invalid_request", group.GetProperty("family").GetString());

        var human = await cli.RunAsync("diagnose", id);
        Assert.Contains("Input line", human.StdOut, StringComparison.Ordinal);
        Assert.Contains("This line is not parseable as valid JSON.", human.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diagnose_TokenLimitRefusal_ShowsTheBatchWaitingToBeSentAgain()
    {
        // Given a batch the provider refuses because its enqueued-token queue is full, seen by a refresh
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["batch:validation_failure:code=token_limit_exceeded:nth=1"]));
        var cli = new CliRunner(ws).WithEmulator(emu).With("BATCHPILOT_TOKEN_LIMIT_DELAY", "3600");
        var run = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", Prompt, "--detach", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;

        // When it is diagnosed with --refresh
        var r = await cli.RunAsync("diagnose", id, "--refresh", "--json");

        // Then the batch waits to be sent again (nothing failed), with the provider's reason and what avoids it
        Assert.True(r.ExitCode == 0, r.ToString());
        var d = JsonDocument.Parse(r.StdOut).RootElement;
        var batch = d.GetProperty("batches")[0];
        Assert.Equal("Planned", batch.GetProperty("state").GetString());
        Assert.Equal("OpenAI refused it because its enqueued-token queue for gpt-4o-mini was full (re-submitted 1 time so far).", batch.GetProperty("problem").GetString());
        Assert.Equal("token_limit_exceeded", batch.GetProperty("validation_errors")[0].GetProperty("code").GetString());
        Assert.Equal("wait", batch.GetProperty("action").GetProperty("kind").GetString());
        Assert.StartsWith("Nothing is lost: it is sent again after ", batch.GetProperty("action").GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Empty(d.GetProperty("error_groups").EnumerateArray());
        Assert.Equal(2, d.GetProperty("items").GetProperty("in_flight").GetInt64());
        Assert.StartsWith("Batch 1: OpenAI refused it because", d.GetProperty("actions")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ErrorAdvice_TokenLimitExhausted_SaysWaitThenResumeOrSendLess()
    {
        var action = ErrorAdvice.ActionFor("token_limit_exceeded", "Enqueued token limit reached for gpt-4o-mini.", new AdviceContext("job-1", "openai", "gpt-4o-mini", []));

        Assert.Equal(ActionKinds.WaitThenResume, action.Kind);
        Assert.Equal(
            "The provider's enqueued-token limit for gpt-4o-mini was reached (too many tokens waiting in batches at once). Wait for your other in-progress batches to finish, then 'batchpilot resume job-1'; to stay under the limit, give it as --max-batch-tokens (or enqueued_token_limits.gpt-4o-mini in config/user.yaml), or lower --batch-size.",
            action.Text);
        Assert.Equal("batchpilot resume job-1", action.Command);
    }

    [Fact]
    public async Task Diagnose_CompletedWithoutOutputFile_RecommendsResume_AndAfterResumeNothingIsLeft()
    {
        // Given the seed's "no output file" case: the provider says completed but gives no file
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["batch:no_output_file:nth=1"]));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var id = await RunJobAsync(cli, ws, 3, "gpt-4o-mini", expectedExit: 1);

        var d = JsonDocument.Parse((await cli.RunAsync("diagnose", id, "--json")).StdOut).RootElement;

        // Then the batch problem is named and the items' group says resume
        Assert.Equal("OpenAI reported the batch completed but gave no output or error file.", d.GetProperty("batches")[0].GetProperty("problem").GetString());
        var group = Assert.Single(d.GetProperty("error_groups").EnumerateArray());
        Assert.Equal("missing_result", group.GetProperty("code").GetString());
        Assert.Equal($"The provider returned no usable result for these requests. A retry usually works: 'batchpilot resume {id}' sends only these items again, as a new batch.", group.GetProperty("action").GetProperty("text").GetString());

        // And following the advice leaves nothing to do
        var resume = await cli.RunAsync("resume", id);
        Assert.True(resume.ExitCode == 0, resume.ToString());
        var after = JsonDocument.Parse((await cli.RunAsync("diagnose", id, "--json")).StdOut).RootElement;
        Assert.Empty(after.GetProperty("error_groups").EnumerateArray());
        Assert.Equal("Nothing to do: every item succeeded.", after.GetProperty("actions")[0].GetProperty("text").GetString());
        Assert.Equal(2, after.GetProperty("batches").GetArrayLength());
    }

    [Fact]
    public async Task Diagnose_AnthropicExpiredBatch_RecommendsResume()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["batch:expire:fraction=0.5"]));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var id = await RunJobAsync(cli, ws, 4, "claude-haiku-4-5", expectedExit: 1);

        var d = JsonDocument.Parse((await cli.RunAsync("diagnose", id, "--json")).StdOut).RootElement;

        var group = Assert.Single(d.GetProperty("error_groups").EnumerateArray());
        Assert.Equal("expired", group.GetProperty("code").GetString());
        Assert.Equal("expired", group.GetProperty("family").GetString());
        Assert.Equal(2, group.GetProperty("count").GetInt64());
        Assert.Equal($"The batch's 24 h window ended before these requests ran. 'batchpilot resume {id}' sends them again; smaller batches finish sooner.", group.GetProperty("action").GetProperty("text").GetString());
        Assert.Equal(2, d.GetProperty("items").GetProperty("expired").GetInt64());
    }

    [Fact]
    public async Task Diagnose_BatchAtTheProvider_SaysWait_AndAfter24HoursContactTheProviderWithTheBatchId()
    {
        // Given a batch that never leaves finalizing, submitted with --detach
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["batch:stuck_finalizing"]));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var run = await cli.RunAsync("run", ws.WriteReviews("r.csv", 2), "--model", "gpt-4o-mini", "--prompt", Prompt, "--detach", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;
        var pbid = emu.Server.ListBatches().Single().Id;

        // When it is diagnosed now, the advice is to wait
        var now = JsonDocument.Parse((await cli.RunAsync("diagnose", id, "--json")).StdOut).RootElement;
        Assert.Equal("wait", now.GetProperty("batches")[0].GetProperty("action").GetProperty("kind").GetString());
        Assert.False(now.GetProperty("batches")[0].GetProperty("stuck").GetBoolean());
        Assert.Equal($"1 batch still at the provider: wait, and follow with 'batchpilot watch {id}'.", now.GetProperty("actions")[0].GetProperty("text").GetString());
        Assert.Equal(2, now.GetProperty("items").GetProperty("in_flight").GetInt64());

        // And 25 hours later (same store, injected time), it is stuck: contact the provider with the batch id
        using var store = SqliteJobStore.Open(ws.PathOf("jobs.db"));
        var job = (await store.GetJobAsync(id))!;
        var report = await Diagnosis.RunAsync(store, job, TimeProvider.System.GetUtcNow().AddHours(25));
        var batch = Assert.Single(report.Batches);
        Assert.True(batch.Stuck);
        Assert.Equal("Still validating 25 h 00 min after submission, past the provider's 24 h window.", batch.Problem);
        Assert.Equal(ActionKinds.ContactProvider, batch.Action.Kind);
        Assert.Equal($"Contact OpenAI support with batch id {pbid}. 'batchpilot cancel {id}' stops it and collects the partial results; resume sends the rest again.", batch.Action.Text);
        Assert.Equal(batch.Action, report.Actions[0]);
        Assert.EndsWith("1 batch stuck.", report.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diagnose_DuplicatedResultLines_AreListedAsAnomalies()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["batch:duplicate_lines:fraction=1"]));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var id = await RunJobAsync(cli, ws, 4, "gpt-4o-mini", expectedExit: 0);
        var pbid = emu.Server.ListBatches().Single().Id;

        var d = JsonDocument.Parse((await cli.RunAsync("diagnose", id, "--json")).StdOut).RootElement;

        var anomaly = Assert.Single(d.GetProperty("anomalies").EnumerateArray());
        Assert.Equal(1, anomaly.GetProperty("batch").GetInt32());
        Assert.StartsWith($"Batch 1 ({pbid}): ", anomaly.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("duplicated result line(s); the first of each was kept", anomaly.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal($"Job {id} is Completed: 4 of 4 items succeeded, 1 result-file anomaly.", d.GetProperty("summary").GetString());
        Assert.Equal("Nothing to do: every item succeeded.", d.GetProperty("actions")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Diagnose_Json_HasTheDocumentedShape()
    {
        using var ws = new TempWorkspace();
        await using var emu = await EmulatorHost.StartAsync(faults: FaultScenario.ParseFlags(["items:error=server_error:ids=row-1"]));
        var cli = new CliRunner(ws).WithEmulator(emu);
        var id = await RunJobAsync(cli, ws, 2, "gpt-4o-mini", expectedExit: 1);

        var r = await cli.RunAsync("diagnose", id, "--json");

        Assert.Equal(string.Empty, r.StdErr);
        var d = JsonDocument.Parse(r.StdOut).RootElement;
        Assert.Equal(
            ["job_id", "job_name", "status", "provider", "model", "mode", "endpoint", "created_at", "completed_at", "diagnosed_at", "summary", "items", "failure_rate", "batches", "error_groups", "anomalies", "actions"],
            d.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(["total", "succeeded", "failed", "expired", "cancelled", "pending", "in_flight", "not_succeeded"], d.GetProperty("items").EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(
            ["code", "family", "count", "rate", "sample_message", "custom_ids", "more_custom_ids", "batches", "resumed_by_default", "action"],
            d.GetProperty("error_groups")[0].EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(
            ["number", "state", "provider_batch_id", "provider_status", "requests", "provider_done", "provider_failed", "items_succeeded", "items_failed", "items_in_flight", "failure_rate",
             "created_at", "submitting_at", "submitted_at", "ended_at", "collected_at", "stuck", "input_file_id", "output_file_id", "error_file_id", "validation_errors", "action"],
            d.GetProperty("batches")[0].EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(["kind", "text", "command"], d.GetProperty("actions")[0].EnumerateObject().Select(p => p.Name).ToArray());
    }

    [Fact]
    public async Task Diagnose_UnknownJob_IsOneLineNotFound()
    {
        using var ws = new TempWorkspace();

        var r = await new CliRunner(ws).RunAsync("diagnose", "job-nope");

        Assert.Equal(7, r.ExitCode);
        Assert.Equal($"error: 'JOB': no job 'job-nope' in {ws.PathOf("jobs.db")}. See 'batchpilot jobs' for the ids.", r.StdErr.Trim());
        Assert.Equal(string.Empty, r.StdOut);
    }

    [Theory]
    [InlineData("rate_limit_exceeded", null, "transient", "resume")]
    [InlineData("rate_limit_error", null, "transient", "resume")]
    [InlineData("server_error", null, "transient", "resume")]
    [InlineData("api_error", null, "transient", "resume")]
    [InlineData("overloaded_error", null, "transient", "resume")]
    [InlineData("request_timeout", null, "transient", "resume")]
    [InlineData("timeout_error", null, "transient", "resume")]
    [InlineData("http_503", null, "transient", "resume")]
    [InlineData("missing_result", null, "transient", "resume")]
    [InlineData("batch_expired", null, "expired", "resume")]
    [InlineData("expired", null, "expired", "resume")]
    [InlineData("batch_cancelled", null, "cancelled", "resume")]
    [InlineData("canceled", null, "cancelled", "resume")]
    [InlineData("cancelled_by_user", null, "cancelled_by_user", "resume")]
    [InlineData("invalid_request_error", "max_tokens: Field required", "invalid_request", "fix_input")]
    [InlineData("invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum", "context_length", "fix_input")]
    [InlineData("context_length_exceeded", null, "context_length", "fix_input")]
    [InlineData("unsupported_parameter", "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "unsupported_parameter", "fix_input")]
    [InlineData("model_not_found", null, "invalid_request", "fix_input")]
    [InlineData("token_limit_exceeded", null, "token_limit", "wait_then_resume")]
    [InlineData("request_too_large", null, "too_large", "split_smaller")]
    [InlineData("insufficient_quota", null, "budget", "raise_budget")]
    [InlineData("authentication_error", null, "authentication", "check_key")]
    [InlineData("something_new", null, "unknown", "resume")]
    public void ErrorAdvice_EachCodeFamily_HasItsOwnAction(string code, string? message, string family, string kind)
    {
        var context = new AdviceContext("job-1", "openai", "gpt-4o-mini", ["batch_1"]);

        Assert.Equal(family, ErrorAdvice.FamilyOf(code, message));
        Assert.Equal(kind, ErrorAdvice.ActionFor(code, message, context).Kind);
    }

    [Fact]
    public void ErrorAdvice_MaxTokensRejected_NamesBothParameters()
    {
        var context = new AdviceContext("job-1", "openai", "gpt-6-mini", []);

        var action = ErrorAdvice.ActionFor("unsupported_parameter", "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", context);

        Assert.Equal(
            "gpt-6-mini rejects 'max_tokens' and wants 'max_completion_tokens' (BatchPilot sends max_completion_tokens only for o1, o3, o4 and gpt-5 models). Send these rows again with a new 'batchpilot run' without --max-tokens, and report the model so it is added ('batchpilot resume job-1 --include-invalid' resends them unchanged).",
            action.Text);
        Assert.Equal("batchpilot resume job-1 --include-invalid", action.Command);
    }

    [Fact]
    public void ErrorAdvice_UnknownCode_NamesTheBatchIdsToGiveTheProvider()
    {
        var action = ErrorAdvice.ActionFor("weird_failure", null, new AdviceContext("job-1", "anthropic", "claude-haiku-4-5", ["msgbatch_01", "msgbatch_02"]));

        Assert.Equal("Unrecognised error 'weird_failure'. Try 'batchpilot resume job-1'; if the same error comes back, contact Anthropic with batch id msgbatch_01, msgbatch_02.", action.Text);
    }

    private static async Task<string> RunJobAsync(CliRunner cli, TempWorkspace ws, int rows, string model, int expectedExit)
    {
        var run = await cli.RunAsync("run", ws.WriteReviews("r.csv", rows), "--model", model, "--prompt", Prompt, "--json", "--out", ws.PathOf("out.csv"));
        Assert.True(run.ExitCode == expectedExit, run.ToString());
        return JsonDocument.Parse(run.StdOut).RootElement.GetProperty("id").GetString()!;
    }

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();
}
