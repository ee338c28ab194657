using System.Text.Json;
using BatchPilot.Emulator.Infrastructure;
using BatchPilot.Emulator.Storage;

namespace BatchPilot.Emulator;

/// <summary>Decides per-item failures and writes each provider's form of the chosen error.</summary>
internal static class ItemFaults
{
    /// <summary>The rule that makes this item fail, or null. Records first-attempt failures.</summary>
    public static ItemFaultRule? Decide(EmulatorStore store, BatchFaultSnapshot faults, string provider, string customId)
    {
        for (var i = 0; i < faults.Items.Count; i++)
        {
            var rule = faults.Items[i];
            if (rule.Provider is not null && rule.Provider != provider)
            {
                continue;
            }
            if (rule.CustomIds is not null && !rule.CustomIds.Contains(customId))
            {
                continue;
            }
            if (rule.Rate < 1 && StableHash.ToUnit(StableHash.Combine(StableHash.Of(customId, (ulong)faults.Seed), (ulong)i)) >= rule.Rate)
            {
                continue;
            }
            if (rule.FirstAttemptOnly && !store.TryRecordFirstAttemptFailure(provider, customId))
            {
                continue;
            }
            return rule;
        }
        return null;
    }

    /// <summary>Expected share of failing items, for progress counts before the output is generated.</summary>
    public static double ExpectedRate(BatchFaultSnapshot faults, string provider)
    {
        var ok = 1.0;
        foreach (var rule in faults.Items)
        {
            if ((rule.Provider is null || rule.Provider == provider) && rule.CustomIds is null)
            {
                ok *= 1 - rule.Rate;
            }
        }
        return 1 - ok;
    }

    /// <summary>OpenAI: the status code and error body of an item error; status 0 means a top-level <c>error</c> instead.</summary>
    public static (int Status, string Message, string Type, string? Param, string? Code) OpenAI(string error, string model) => error switch
    {
        "server_error" or "api_error" => (500, "The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error.", "server_error", null, null),
        "context_length_exceeded" => (400, "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.", "invalid_request_error", "messages", "context_length_exceeded"),
        "invalid_request_error" => (400, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "invalid_request_error", "messages", "empty_array"),
        "rate_limit_exceeded" or "rate_limit_error" => (429, $"Rate limit reached for {model} in organization org-emulator on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms. Visit https://platform.openai.com/account/rate-limits to learn more.", "tokens", null, "rate_limit_exceeded"),
        "overloaded" or "overloaded_error" => (503, "The engine is currently overloaded, please try again later.", "server_error", null, null),
        "request_timeout" or "timeout_error" => (0, "The request timed out.", "", null, "request_timeout"),
        _ => (500, "The server had an error processing your request.", "server_error", null, null),
    };

    /// <summary>Anthropic: the <c>error.type</c> and message of an <c>errored</c> result.</summary>
    public static (string Type, string Message) Anthropic(string error) => error switch
    {
        "server_error" or "api_error" => ("api_error", "Internal server error"),
        "context_length_exceeded" => ("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
        "invalid_request_error" => ("invalid_request_error", "messages: at least one message is required"),
        "rate_limit_exceeded" or "rate_limit_error" => ("rate_limit_error", "This request would exceed the rate limit for your organization of 20,000 input tokens per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."),
        "overloaded" or "overloaded_error" => ("overloaded_error", "Overloaded"),
        "request_timeout" or "timeout_error" => ("timeout_error", "Request timed out"),
        _ => ("api_error", "Internal server error"),
    };

    /// <summary>An OpenAI <c>BatchRequestOutput</c> line for a failed item.</summary>
    public static void WriteOpenAIErrorLine(Utf8JsonWriter w, string lineId, string customId, string requestId, string error, string model)
    {
        var (status, message, type, param, code) = OpenAI(error, model);
        w.WriteStartObject();
        w.WriteString("id"u8, lineId);
        w.WriteString("custom_id"u8, customId);
        if (status == 0)
        {
            w.WriteNull("response"u8);
            w.WriteStartObject("error"u8);
            w.WriteString("code"u8, code);
            w.WriteString("message"u8, message);
            w.WriteEndObject();
        }
        else
        {
            WriteResponseError(w, requestId, status, message, type, param, code);
        }
        w.WriteEndObject();
    }

    private static void WriteResponseError(Utf8JsonWriter w, string requestId, int status, string message, string type, string? param, string? code)
    {
        w.WriteStartObject("response"u8);
        w.WriteNumber("status_code"u8, status);
        w.WriteString("request_id"u8, requestId);
        w.WritePropertyName("body"u8);
        Wire.WriteOpenAIError(w, message, type, param, code);
        w.WriteEndObject();
        w.WriteNull("error"u8);
    }

    /// <summary>The item "error" that is no error: the answer is JSON breaking the requested schema.</summary>
    public const string SchemaViolation = "schema_violation";

    /// <summary>
    /// The sync form of <see cref="SchemaViolation"/>: true when a <c>schema_violation</c> rule fires for this request
    /// (keyed by its prompt text, since sync requests carry no custom_id).
    /// </summary>
    public static bool SyncSchemaViolation(EmulatorStore store, FaultScenario faults, string provider, string key)
    {
        var rules = faults.Items.Where(i => i.Error == SchemaViolation).ToList();
        return rules.Count > 0 && Decide(store, new BatchFaultSnapshot { Seed = faults.Seed, Items = rules }, provider, key) is not null;
    }

    /// <summary>An OpenAI <c>BatchRequestOutput</c> line for a request the endpoint refused with an HTTP error.</summary>
    public static void WriteOpenAIRequestError(Utf8JsonWriter w, string lineId, string customId, string requestId, int status, string message, string type, string? param, string? code)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, lineId);
        w.WriteString("custom_id"u8, customId);
        WriteResponseError(w, requestId, status, message, type, param, code);
        w.WriteEndObject();
    }

    /// <summary>A line with <c>response: null</c> and a top-level error (cancelled, expired).</summary>
    public static void WriteOpenAITopLevelError(Utf8JsonWriter w, string lineId, string customId, string code, string message)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, lineId);
        w.WriteString("custom_id"u8, customId);
        w.WriteNull("response"u8);
        w.WriteStartObject("error"u8);
        w.WriteString("code"u8, code);
        w.WriteString("message"u8, message);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
