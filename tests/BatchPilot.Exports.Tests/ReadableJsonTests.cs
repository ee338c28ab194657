using System.Text;
using System.Text.Json;
using BatchPilot.Jobs;

namespace BatchPilot.Exports.Tests;

/// <summary>JSON written for people keeps every script and emoji readable, and stays valid JSON in valid UTF-8.</summary>
public sealed class ReadableJsonTests : IDisposable
{
    private const string French = "Café crème, très bon";
    private const string Chinese = "这个产品很好";
    private const string Emoji = "Great 🎉 product 👍";
    private const string Special = "say \"hi\"\\ then\nnew line\tand \u0001";

    private readonly ExportJobs _jobs = new();

    public void Dispose() => _jobs.Dispose();

    [Fact]
    public async Task Export_Jsonl_WritesAccentsChineseAndEmojiAsThemselves_AndEveryLineReadsBack()
    {
        // Given a job whose inputs and answers are in French, Chinese and emoji
        var job = await _jobs.CreateAsync("job-0e0e0e", ["question"], null, [("row-1", [French]), ("row-2", [Chinese]), ("row-3", [Emoji]), ("row-4", [Special])]);
        var batch = await _jobs.SubmitAsync(job.Id, [1, 2, 3, 4], "batch_u1");
        await _jobs.CollectAsync(batch, [ExportJobs.Ok("row-1", "Réponse : " + French), ExportJobs.Ok("row-2", "回答：" + Chinese), ExportJobs.Ok("row-3", "👍 " + Emoji), ExportJobs.Ok("row-4", Special)]);
        job = await _jobs.FinishAsync(job.Id, JobStatus.Completed);
        var path = _jobs.Ws.PathOf("out.jsonl");

        // When it is exported as JSON lines
        await JobExporter.ExportAsync(_jobs.Store, job, ExportFormat.Jsonl, path, _jobs.Options());

        // Then the text is readable as written (no \u escapes but for the control character), and each line parses back
        var text = new UTF8Encoding(false, true).GetString(await File.ReadAllBytesAsync(path));
        foreach (var s in new[] { "Réponse : " + French, "回答：" + Chinese, "👍 " + Emoji })
        {
            Assert.Contains("\"" + s + "\"", text, StringComparison.Ordinal);
        }

        Assert.Equal(["\\u0001", "\\u0001"], System.Text.RegularExpressions.Regex.Matches(text, @"\\u[0-9A-Fa-f]{4}").Select(m => m.Value));
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([French, Chinese, Emoji, Special], lines.Select(l => l.GetProperty("input").GetProperty("question").GetString()));
        Assert.Equal(Special, lines[3].GetProperty("response").GetString());
    }

    [Fact]
    public void Encoder_ALoneSurrogate_IsEscaped_SoTheOutputIsValidUtf8()
    {
        // A value cut in the middle of an emoji holds half a surrogate pair, which UTF-8 cannot carry.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, ReadableJson.Compact))
        {
            w.WriteStringValue("ok 🎉 cut \uD83D");
        }

        var json = new UTF8Encoding(false, true).GetString(buffer.WrittenSpan);
        Assert.StartsWith("\"ok 🎉 cut ", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\uD83D\"", json, StringComparison.Ordinal);
        Assert.NotNull(JsonDocument.Parse(json).RootElement.GetString());
    }
}
