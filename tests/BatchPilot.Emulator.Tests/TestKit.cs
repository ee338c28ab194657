using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace BatchPilot.Emulator.Tests;

/// <summary>Helpers shared by the tests: a started emulator, raw HTTP calls, JSONL builders, bounded waits.</summary>
internal static class TestKit
{
    public static async Task<EmulatorServer> StartAsync(Action<EmulatorOptions>? configure = null)
    {
        var options = new EmulatorOptions { BatchDuration = TimeSpan.FromMilliseconds(300) };
        configure?.Invoke(options);
        return await EmulatorServer.StartAsync(options).WaitAsync(TimeSpan.FromSeconds(20));
    }

    public static HttpClient OpenAIHttp(EmulatorServer server, string key = "sk-test-key")
    {
        var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    public static HttpClient AnthropicHttp(EmulatorServer server, string key = "sk-ant-test-key")
    {
        var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("x-api-key", key);
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        return http;
    }

    public static string ChatLine(string customId, string text, string model = "gpt-4o-mini") =>
        JsonSerializer.Serialize(new
        {
            custom_id = customId,
            method = "POST",
            url = "/v1/chat/completions",
            body = new { model, messages = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = text } }, max_tokens = 100 },
        });

    public static string ChatJsonl(int count, string prefix = "req") =>
        string.Join('\n', Enumerable.Range(1, count).Select(i => ChatLine($"{prefix}-{i}", $"Question number {i}?"))) + "\n";

    public static async Task<string> UploadAsync(HttpClient http, string content, string filename = "input.jsonl", string purpose = "batch")
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(purpose), "purpose");
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(content)), "file", filename);
        using var response = await http.PostAsync("v1/files", form);
        var json = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, json);
        return JsonDocument.Parse(json).RootElement.GetProperty("id").GetString()!;
    }

    public static async Task<JsonElement> CreateOpenAIBatchAsync(HttpClient http, string fileId, object? metadata = null)
    {
        var (status, json) = await PostJsonAsync(http, "v1/batches", new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h", metadata });
        Assert.True(status == 200, json.ToString());
        return json;
    }

    public static async Task<(int Status, JsonElement Json)> PostJsonAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    public static async Task<(int Status, JsonElement Json)> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Polls until <paramref name="done"/> holds; fails with the caller's line after <paramref name="seconds"/>.</summary>
    public static async Task<JsonElement> PollAsync(Func<Task<JsonElement>> get, Func<JsonElement, bool> done, double seconds = 15, [CallerLineNumber] int line = 0)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var value = await get();
            if (done(value))
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Condition not met within {seconds}s (caller line {line}); last value: {value}");
            }
            await Task.Delay(50);
        }
    }

    public static List<JsonElement> ParseJsonl(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "bp-emu-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
