using System.ClientModel;
using System.Text.Json;
using Anthropic;
using Anthropic.Models.Messages;
using Anthropic.Models.Messages.Batches;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Files;
using OpenAI.Responses;

namespace BatchPilot.Emulator.Tests;

/// <summary>The official OpenAI and Anthropic .NET SDKs, pointed at the emulator, must work unchanged.</summary>
public sealed class OfficialSdkTests
{
    private static OpenAIClient OpenAIClientFor(EmulatorServer server) =>
        new(new ApiKeyCredential("sk-test-key"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1"), RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0) });

    private static AnthropicClient AnthropicClientFor(EmulatorServer server) =>
        new() { ApiKey = "sk-ant-test-key", BaseUrl = server.BaseAddress.ToString().TrimEnd('/'), MaxRetries = 0, ResponseValidation = true };

    [Fact]
    public async Task OpenAISdk_UploadCreatePollDownload_ReturnsAnswersForEveryLine()
    {
        await using var server = await TestKit.StartAsync();
        var client = OpenAIClientFor(server);
        var files = client.GetOpenAIFileClient();

        OpenAIFile input = await files.UploadFileAsync(BinaryData.FromString(TestKit.ChatJsonl(5)), "input.jsonl", FileUploadPurpose.Batch);
        Assert.StartsWith("file-", input.Id);
        Assert.Equal(FilePurpose.Batch, input.Purpose);

        var batches = client.GetBatchClient();
        var body = BinaryContent.Create(BinaryData.FromObjectAsJson(new { input_file_id = input.Id, endpoint = "/v1/chat/completions", completion_window = "24h", metadata = new { job = "sdk" } }));
        var operation = await batches.CreateBatchAsync(body, waitUntilCompleted: false);
        Assert.Matches("^batch_[0-9a-f]{32}$", operation.BatchId);

        var final = await TestKit.PollAsync(
            async () => JsonDocument.Parse((await operation.GetBatchAsync(null)).GetRawResponse().Content).RootElement.Clone(),
            b => b.GetProperty("status").GetString() == "completed");
        Assert.Equal(5, final.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(JsonValueKind.Null, final.GetProperty("error_file_id").ValueKind);

        var outputId = final.GetProperty("output_file_id").GetString()!;
        OpenAIFile outputFile = await files.GetFileAsync(outputId);
        Assert.Equal(FilePurpose.BatchOutput, outputFile.Purpose);
        BinaryData content = await files.DownloadFileAsync(outputId);
        var lines = TestKit.ParseJsonl(content.ToString());
        Assert.Equal(5, lines.Count);
        var third = lines.Single(l => l.GetProperty("custom_id").GetString() == "req-3");
        var text = third.GetProperty("response").GetProperty("body").GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        Assert.Equal("Emulated answer to: Question number 3?", text);
    }

    [Fact]
    public async Task OpenAISdk_ChatCompletion_EchoesLastUserMessageWithUsage()
    {
        await using var server = await TestKit.StartAsync();
        var chat = OpenAIClientFor(server).GetChatClient("gpt-4o-mini");

        ChatCompletion completion = await chat.CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("What is the capital of France?")]);

        Assert.Equal("Emulated answer to: What is the capital of France?", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal("gpt-4o-mini", completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.True(completion.Usage.InputTokenCount >= 1);
        Assert.Equal((completion.Content[0].Text.Length + 3) / 4, completion.Usage.OutputTokenCount);
        Assert.Equal(1, server.Counters["POST /v1/chat/completions"]);
    }

    [Fact]
    public async Task OpenAISdk_Responses_ReturnsOutputText()
    {
        await using var server = await TestKit.StartAsync();
        var responses = OpenAIClientFor(server).GetResponsesClient();

        var result = await responses.CreateResponseAsync("gpt-4.1-mini", "Name three colours.");

        Assert.Equal("Emulated answer to: Name three colours.", result.Value.GetOutputText());
        Assert.True(result.Value.Usage.OutputTokenCount >= 1);
    }

    [Fact]
    public async Task AnthropicSdk_Messages_ReturnsValidatedMessage()
    {
        await using var server = await TestKit.StartAsync();
        var client = AnthropicClientFor(server);

        var message = await client.Messages.Create(new MessageCreateParams
        {
            Model = "claude-haiku-4-5",
            MaxTokens = 256,
            Messages = [new UserMessageParam { Content = "Hello, Claude" }],
        });

        var text = Assert.Single(message.Content).Value as TextBlock;
        Assert.NotNull(text);
        Assert.Equal("Emulated answer to: Hello, Claude", text.Text);
        Assert.StartsWith("msg_", message.ID);
        Assert.True(message.Usage.InputTokens >= 1);
        Assert.Equal("standard", message.Usage.ServiceTier?.Raw());
    }

    [Fact]
    public async Task AnthropicSdk_CountTokens_MatchesMessageUsage()
    {
        await using var server = await TestKit.StartAsync();
        var client = AnthropicClientFor(server);
        MessageParam[] messages = [new UserMessageParam { Content = "Count me" }];

        var count = await client.Messages.CountTokens(new MessageCountTokensParams { Model = "claude-haiku-4-5", Messages = messages });
        var message = await client.Messages.Create(new MessageCreateParams { Model = "claude-haiku-4-5", MaxTokens = 10, Messages = messages });

        Assert.Equal(message.Usage.InputTokens, count.InputTokens);
    }

    [Fact]
    public async Task AnthropicSdk_BatchCreateRetrieveListResults_AllSucceed()
    {
        await using var server = await TestKit.StartAsync();
        var client = AnthropicClientFor(server);

        var batch = await client.Messages.Batches.Create(new BatchCreateParams
        {
            Requests =
            [
                new Request { CustomID = "first", Params = new Params { Model = "claude-haiku-4-5", MaxTokens = 100, Messages = [new UserMessageParam { Content = "One" }] } },
                new Request { CustomID = "second", Params = new Params { Model = "claude-haiku-4-5", MaxTokens = 100, Messages = [new UserMessageParam { Content = "Two" }] } },
            ],
        });
        Assert.Matches("^msgbatch_01[0-9A-Za-z]{22}$", batch.ID);
        Assert.Equal(2, batch.RequestCounts.Processing);
        Assert.Null(batch.ResultsUrl);

        MessageBatch ended = batch;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (ended.ProcessingStatus.Raw() != "ended" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            ended = await client.Messages.Batches.Retrieve(batch.ID);
        }
        Assert.Equal("ended", ended.ProcessingStatus.Raw());
        Assert.Equal(2, ended.RequestCounts.Succeeded);
        Assert.Equal(0, ended.RequestCounts.Processing);
        Assert.Equal($"{server.BaseAddress}v1/messages/batches/{batch.ID}/results", ended.ResultsUrl);

        var page = await client.Messages.Batches.List(new BatchListParams { Limit = 10 });
        Assert.Contains(page.Items, b => b.ID == batch.ID);

        var results = new List<MessageBatchIndividualResponse>();
        await foreach (var r in client.Messages.Batches.ResultsStreaming(batch.ID))
        {
            results.Add(r);
        }
        Assert.Equal(["first", "second"], results.Select(r => r.CustomID).Order());
        var second = results.Single(r => r.CustomID == "second");
        Assert.True(second.Result.TryPickSucceeded(out var succeeded));
        Assert.Equal("Emulated answer to: Two", (succeeded!.Message.Content[0].Value as TextBlock)!.Text);
        Assert.Equal("batch", succeeded.Message.Usage.ServiceTier?.Raw());
    }

    [Fact]
    public async Task OpenAISdk_ChatCompletionStreaming_JoinsToTheAnswerWithUsage()
    {
        await using var server = await TestKit.StartAsync();
        var chat = OpenAIClientFor(server).GetChatClient("gpt-4o-mini");
        ChatMessage[] messages = [new UserChatMessage("Stream me the capital of France, please.")];
        ChatCompletion plain = await chat.CompleteChatAsync(messages);

        var text = new System.Text.StringBuilder();
        var updates = 0;
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal(plain.Content[0].Text, text.ToString());
        Assert.True(updates >= 4, $"{updates} updates");
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(plain.Usage.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(plain.Usage.OutputTokenCount, usage.OutputTokenCount);
    }

    [Fact]
    public async Task OpenAISdk_ResponsesStreaming_JoinsToTheOutputText()
    {
        await using var server = await TestKit.StartAsync();
        var responses = OpenAIClientFor(server).GetResponsesClient();

        var deltas = new System.Text.StringBuilder();
        ResponseResult? completed = null;
        await foreach (var update in await responses.CreateResponseStreamingAsync("gpt-4.1-mini", "Name three colours, streamed."))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                deltas.Append(delta.Delta);
            }
            else if (update is StreamingResponseCompletedUpdate done)
            {
                completed = done.Response;
            }
        }

        Assert.Equal("Emulated answer to: Name three colours, streamed.", deltas.ToString());
        Assert.NotNull(completed);
        Assert.Equal(deltas.ToString(), completed.GetOutputText());
        Assert.True(completed.Usage.OutputTokenCount >= 1);
    }

    [Fact]
    public async Task AnthropicSdk_MessagesStreaming_JoinsToTheAnswerWithUsage()
    {
        await using var server = await TestKit.StartAsync();
        var client = AnthropicClientFor(server);
        var parameters = new MessageCreateParams
        {
            Model = "claude-haiku-4-5",
            MaxTokens = 256,
            Messages = [new UserMessageParam { Content = "Hello, Claude, stream this." }],
        };
        var plain = await client.Messages.Create(parameters);

        var text = new System.Text.StringBuilder();
        var kinds = new List<string>();
        long? inputTokens = null;
        long? outputTokens = null;
        TextBlock? opened = null;
        await foreach (var e in client.Messages.CreateStreaming(parameters))
        {
            e.Switch(
                start => { kinds.Add("start"); start.Validate(); inputTokens = start.Message.Usage.InputTokens; },
                delta => { kinds.Add("delta"); delta.Validate(); outputTokens = delta.Usage.OutputTokens; },
                stop => kinds.Add("stop"),
                blockStart =>
                {
                    kinds.Add("block_start");
                    blockStart.Validate();
                    opened = blockStart.ContentBlock.Value as TextBlock;
                },
                blockDelta =>
                {
                    kinds.Add("block_delta");
                    blockDelta.Validate();
                    if (blockDelta.Delta.TryPickText(out var t))
                    {
                        text.Append(t.Text);
                    }
                },
                blockStop => kinds.Add("block_stop"));
        }

        Assert.Equal((plain.Content[0].Value as TextBlock)!.Text, text.ToString());
        Assert.Equal(["start", "block_start"], kinds[..2]);
        Assert.Equal("", opened?.Text);
        Assert.Equal(["block_stop", "delta", "stop"], kinds[^3..]);
        Assert.Equal(plain.Usage.InputTokens, inputTokens);
        Assert.Equal(plain.Usage.OutputTokens, outputTokens);
    }
}
