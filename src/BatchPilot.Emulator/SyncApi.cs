using System.Text.Json;
using BatchPilot.Emulator.Answers;
using BatchPilot.Emulator.Infrastructure;
using BatchPilot.Emulator.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace BatchPilot.Emulator;

/// <summary>
/// The synchronous endpoints of both providers (<c>/v1/chat/completions</c>, <c>/v1/responses</c>,
/// <c>/v1/messages</c>, <c>/v1/messages/count_tokens</c>) and <c>/v1/models</c>; the same chat completions in the
/// shapes of OpenRouter (<c>/api/v1/chat/completions</c>, <c>/api/v1/key</c>, <c>/api/v1/models</c>) and Azure OpenAI
/// (<c>/openai/deployments/{deployment}/chat/completions?api-version=…</c> with the <c>api-key</c> header,
/// <c>/openai/models</c>).
/// </summary>
internal sealed class SyncApi(EmulatorContext ctx)
{
    private static readonly (string Id, long Created)[] OpenAIModels =
    [
        ("gpt-4o", 1715367049), ("gpt-4o-mini", 1721172741), ("gpt-4.1", 1744316542), ("gpt-4.1-mini", 1744318173),
        ("gpt-5", 1754425777), ("gpt-5-mini", 1754425928), ("text-embedding-3-small", 1705948997),
    ];

    private static readonly (string Id, string Name, string Created)[] AnthropicModels =
    [
        ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
        ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
        ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
        ("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-14T00:00:00Z"),
        ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
    ];

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/chat/completions", http => HandleAsync(http, Responder.Shape.ChatCompletions));
        app.MapPost("/v1/responses", http => HandleAsync(http, Responder.Shape.Responses));
        app.MapPost("/v1/messages", http => HandleAsync(http, Responder.Shape.AnthropicMessages));
        app.MapPost("/v1/messages/count_tokens", CountTokensAsync);
        app.MapGet("/v1/models", ModelsAsync);
        app.MapGet("/v1/models/{id}", ModelAsync);

        // OpenRouter: the OpenAI wire under /api/v1, and the key's own description (what clients check a key with).
        app.MapPost("/api/v1/chat/completions", http => HandleAsync(http, Responder.Shape.ChatCompletions));
        app.MapGet("/api/v1/models", OpenAIModelsAsync);
        app.MapGet("/api/v1/key", OpenRouterKeyAsync);

        // Azure OpenAI: the deployment in the path, api-version required (the api-key header is checked by the pipeline).
        app.MapPost("/openai/deployments/{deployment}/chat/completions", AzureChatAsync);
        app.MapGet("/openai/models", http => AzureApiVersionMissing(http) ? AzureNotFoundAsync(http) : OpenAIModelsAsync(http));
    }

    private static bool AzureApiVersionMissing(HttpContext http) => string.IsNullOrWhiteSpace(http.Request.Query["api-version"].ToString());

    /// <summary>What Azure answers for a path it does not serve, a missing api-version included.</summary>
    private static Task AzureNotFoundAsync(HttpContext http) => Wire.WriteJsonAsync(http, 404, w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("error"u8);
        w.WriteString("code"u8, "404"u8);
        w.WriteString("message"u8, "Resource not found"u8);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private Task AzureChatAsync(HttpContext http)
    {
        if (AzureApiVersionMissing(http))
        {
            return AzureNotFoundAsync(http);
        }
        return HandleAsync(http, Responder.Shape.ChatCompletions, deployment: (string)http.Request.RouteValues["deployment"]!);
    }

    private static Task OpenRouterKeyAsync(HttpContext http)
    {
        var auth = http.Request.Headers.Authorization.ToString();
        var key = auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? auth[7..].Trim() : "";
        if (key.Length == 0)
        {
            return Wire.WriteJsonAsync(http, 401, w =>
            {
                w.WriteStartObject();
                w.WriteStartObject("error"u8);
                w.WriteString("message"u8, "No auth credentials found"u8);
                w.WriteNumber("code"u8, 401);
                w.WriteEndObject();
                w.WriteEndObject();
            });
        }
        return Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("data"u8);
            w.WriteString("label"u8, EmulatorServer.Mask(key));
            w.WriteNull("limit"u8);
            w.WriteNumber("usage"u8, 0);
            w.WriteBoolean("is_free_tier"u8, false);
            w.WriteNull("limit_remaining"u8);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// Output tokens a request counts for at arrival, as the providers' limiters count them: the requested maximum
    /// (<c>max_tokens</c>, <c>max_completion_tokens</c>, <c>max_output_tokens</c>), else the answer's own length.
    /// </summary>
    private static int CountedOutputTokens(JsonElement body, Prompt prompt)
    {
        foreach (var name in (ReadOnlySpan<string>)["max_tokens", "max_completion_tokens", "max_output_tokens"])
        {
            if (body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n > 0)
            {
                return n;
            }
        }
        return prompt.OutputTokens;
    }

    private async Task HandleAsync(HttpContext http, Responder.Shape shape, string? deployment = null)
    {
        var provider = shape == Responder.Shape.AnthropicMessages ? Wire.Anthropic : Wire.OpenAI;
        using var doc = await Wire.ReadJsonBodyAsync(http);
        if (doc is null)
        {
            return;
        }
        var body = doc.RootElement;
        if (await ValidateAsync(http, body, shape, requireModel: deployment is null))
        {
            return;
        }
        var text = Responder.LastUserText(body, shape);
        var violate = ItemFaults.SyncSchemaViolation(ctx.Store, ctx.Faults, provider, "sync:" + text);
        var prompt = Responder.Read(body, shape, violate, deployment);
        if (prompt.ImageError is { } imageError)
        {
            if (shape == Responder.Shape.AnthropicMessages)
            {
                await Wire.AnthropicErrorAsync(http, 400, "invalid_request_error", imageError.Message);
            }
            else
            {
                await Wire.OpenAIErrorAsync(http, 400, imageError.Message, param: imageError.Param, code: imageError.Code);
            }
            return;
        }
        var decision = ctx.RateLimiter.Acquire(provider, prompt.InputTokens, CountedOutputTokens(body, prompt), ctx.Now);
        if (!decision.Allowed)
        {
            await SyncRateLimiter.WriteRateLimitedAsync(http, provider, decision, prompt.Model);
            return;
        }
        if (ctx.Options.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(ctx.Options.LatencyMs), ctx.Time, http.RequestAborted);
        }
        SyncRateLimiter.WriteHeaders(http.Response, provider, decision);
        var created = ctx.Now.ToUnixTimeSeconds();
        var resetMidBody = http.Items.Remove(MidBodyResetKey);
        if (body.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            var events = shape switch
            {
                Responder.Shape.ChatCompletions => StreamedAnswers.ChatCompletion(Ids.NewChatCompletionId(), created, prompt, body),
                Responder.Shape.Responses => StreamedAnswers.Response(Ids.NewResponseId(), Ids.NewResponseMessageId(), created, prompt, body),
                _ => StreamedAnswers.Message(Ids.NewMessageId(), prompt),
            };
            await Wire.WriteEventsAsync(http, events, resetMidBody);
            return;
        }
        await Wire.WriteJsonAsync(http, 200, w =>
        {
            switch (shape)
            {
                case Responder.Shape.ChatCompletions:
                    Responder.WriteChatCompletion(w, Ids.NewChatCompletionId(), created, prompt);
                    break;
                case Responder.Shape.Responses:
                    Responder.WriteResponse(w, Ids.NewResponseId(), Ids.NewResponseMessageId(), created, prompt, body);
                    break;
                default:
                    Responder.WriteMessage(w, Ids.NewMessageId(), prompt, "standard");
                    break;
            }
        }, resetMidBody);
    }

    /// <summary>Set by the pipeline when a <c>midBody</c> reset fault chose this call: the answer breaks off half way.</summary>
    public const string MidBodyResetKey = "emulator.midBodyReset";

    /// <summary>True for the calls that answer a prompt (where a <c>midBody</c> reset can cut an answer short).</summary>
    public static bool Answers(string method, string path) =>
        HttpMethods.IsPost(method) && (path.EndsWith("/chat/completions", StringComparison.Ordinal) || path is "/v1/responses" or "/v1/messages");

    /// <summary>Writes a 400 and returns true when the body lacks what the real endpoint requires.</summary>
    private static async Task<bool> ValidateAsync(HttpContext http, JsonElement body, Responder.Shape shape, bool requireModel)
    {
        bool Has(string name, JsonValueKind kind) => body.TryGetProperty(name, out var v) && v.ValueKind == kind;
        switch (shape)
        {
            case Responder.Shape.ChatCompletions:
                if (requireModel && !Has("model", JsonValueKind.String))
                {
                    await Wire.OpenAIErrorAsync(http, 400, "you must provide a model parameter");
                    return true;
                }
                if (!Has("messages", JsonValueKind.Array))
                {
                    await Wire.OpenAIErrorAsync(http, 400, "Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter");
                    return true;
                }
                return false;
            case Responder.Shape.Responses:
                if (!Has("model", JsonValueKind.String))
                {
                    await Wire.OpenAIErrorAsync(http, 400, "Missing required parameter: 'model'.", param: "model", code: "missing_required_parameter");
                    return true;
                }
                return false;
            default:
                var problem = AnthropicParamsProblem(body, requireMaxTokens: true);
                if (problem is not null)
                {
                    await Wire.AnthropicErrorAsync(http, 400, "invalid_request_error", problem);
                    return true;
                }
                return false;
        }
    }

    /// <summary>The first problem of a Messages API body, as Anthropic words it, or null. Shared with batch creation.</summary>
    public static string? AnthropicParamsProblem(JsonElement p, bool requireMaxTokens)
    {
        if (!p.TryGetProperty("model", out var model))
        {
            return "model: Field required";
        }
        if (model.ValueKind != JsonValueKind.String)
        {
            return "model: Input should be a valid string";
        }
        if (requireMaxTokens)
        {
            if (!p.TryGetProperty("max_tokens", out var mt))
            {
                return "max_tokens: Field required";
            }
            if (mt.ValueKind != JsonValueKind.Number || !mt.TryGetInt64(out var n))
            {
                return "max_tokens: Input should be a valid integer";
            }
            if (n < 1)
            {
                return "max_tokens: Input should be greater than or equal to 1";
            }
        }
        if (!p.TryGetProperty("messages", out var messages))
        {
            return "messages: Field required";
        }
        if (messages.ValueKind != JsonValueKind.Array)
        {
            return "messages: Input should be a valid list";
        }
        return null;
    }

    private async Task CountTokensAsync(HttpContext http)
    {
        using var doc = await Wire.ReadJsonBodyAsync(http);
        if (doc is null)
        {
            return;
        }
        if (AnthropicParamsProblem(doc.RootElement, requireMaxTokens: false) is { } problem)
        {
            await Wire.AnthropicErrorAsync(http, 400, "invalid_request_error", problem);
            return;
        }
        var prompt = Responder.Read(doc.RootElement, Responder.Shape.AnthropicMessages);
        await Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("input_tokens"u8, prompt.InputTokens);
            w.WriteEndObject();
        });
    }

    private static Task ModelsAsync(HttpContext http)
    {
        if (Wire.ProviderOf(http.Request) == Wire.Anthropic)
        {
            return Wire.WriteJsonAsync(http, 200, w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("data"u8);
                foreach (var m in AnthropicModels)
                {
                    WriteAnthropicModel(w, m);
                }
                w.WriteEndArray();
                w.WriteBoolean("has_more"u8, false);
                w.WriteString("first_id"u8, AnthropicModels[0].Id);
                w.WriteString("last_id"u8, AnthropicModels[^1].Id);
                w.WriteEndObject();
            });
        }
        return OpenAIModelsAsync(http);
    }

    private static Task OpenAIModelsAsync(HttpContext http) => Wire.WriteJsonAsync(http, 200, w =>
    {
        w.WriteStartObject();
        w.WriteString("object"u8, "list"u8);
        w.WriteStartArray("data"u8);
        foreach (var m in OpenAIModels)
        {
            WriteOpenAIModel(w, m);
        }
        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static Task ModelAsync(HttpContext http)
    {
        var id = (string)http.Request.RouteValues["id"]!;
        if (Wire.ProviderOf(http.Request) == Wire.Anthropic)
        {
            var found = AnthropicModels.FirstOrDefault(m => m.Id == id);
            return found.Id is null
                ? Wire.AnthropicErrorAsync(http, 404, "not_found_error", $"model: {id}")
                : Wire.WriteJsonAsync(http, 200, w => WriteAnthropicModel(w, found));
        }
        var model = OpenAIModels.FirstOrDefault(m => m.Id == id);
        return model.Id is null
            ? Wire.OpenAIErrorAsync(http, 404, $"The model '{id}' does not exist", param: "model", code: "model_not_found")
            : Wire.WriteJsonAsync(http, 200, w => WriteOpenAIModel(w, model));
    }

    private static void WriteOpenAIModel(Utf8JsonWriter w, (string Id, long Created) m)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, m.Id);
        w.WriteString("object"u8, "model"u8);
        w.WriteNumber("created"u8, m.Created);
        w.WriteString("owned_by"u8, "system"u8);
        w.WriteEndObject();
    }

    private static void WriteAnthropicModel(Utf8JsonWriter w, (string Id, string Name, string Created) m)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "model"u8);
        w.WriteString("id"u8, m.Id);
        w.WriteString("display_name"u8, m.Name);
        w.WriteString("created_at"u8, m.Created);
        w.WriteEndObject();
    }
}
