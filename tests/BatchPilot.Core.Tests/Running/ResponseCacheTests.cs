using System.Reflection;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Running;

namespace BatchPilot.Core.Tests.Running;

public sealed class ResponseCacheTests
{
    private static readonly LlmRequest Request = new()
    {
        Model = "gpt-4o-mini",
        System = "Be brief.",
        PriorTurns = [new ChatTurn(ChatTurn.User, "2+2?"), new ChatTurn(ChatTurn.Assistant, "4")],
        UserText = "Classify: great knife",
        MaxTokens = 50,
        Temperature = 0.2,
    };

    /// <summary>A different value for a property of each type the request uses. A new property of another type fails the test below on purpose.</summary>
    private static object Other(PropertyInfo p) => p.PropertyType switch
    {
        var t when t == typeof(string) => "something else",
        var t when t == typeof(int?) || t == typeof(int) => 7,
        var t when t == typeof(double?) || t == typeof(double) => 1.5,
        var t when t == typeof(IReadOnlyList<ChatTurn>) => new[] { new ChatTurn(ChatTurn.User, "other") },
        var t when t == typeof(IReadOnlyList<ImagePart>) => new[] { new ImagePart { Kind = ImageSourceKind.Url, Value = "https://example.com/a.png" } },
        var t when t == typeof(ResponseFormat) => new ResponseFormat("answer", """{"type":"object"}"""),
        _ => throw new InvalidOperationException(
            $"LlmRequest.{p.Name} ({p.PropertyType.Name}) is new: give it a value here, and check that ResponseCache.Key covers everything it changes in the answer (e.g. the bytes of a file it names)"),
    };

    [Fact]
    public void Key_ChangesWithEveryPropertyOfTheRequest()
    {
        var baseline = ResponseCache.Key("openai", "emulator", Request);
        var clone = typeof(LlmRequest).GetMethod("<Clone>$")!;
        foreach (var p in typeof(LlmRequest).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var changed = (LlmRequest)clone.Invoke(Request, null)!;
            p.SetValue(changed, Other(p));

            Assert.True(ResponseCache.Key("openai", "emulator", changed) != baseline, $"changing LlmRequest.{p.Name} must change the cache key");
        }
    }

    [Fact]
    public void Key_IsStableAndHexSha256_AndIndependentOfTheBatchOrSyncMode()
    {
        var spec = new JobSpec { InputPath = "a.csv", InputSha256 = "x", Provider = "openai", Model = "gpt-4o-mini", Prompt = "p", Endpoint = "emulator", Mode = JobMode.Batch };

        var batch = ResponseCache.Key(spec, Request);
        var sync = ResponseCache.Key(spec with { Mode = JobMode.Sync, InputSha256 = "another input" }, Request with { });

        Assert.Equal(batch, sync);
        Assert.Matches("^[0-9a-f]{64}$", batch);
    }

    [Theory]
    [InlineData("anthropic", "emulator")]
    [InlineData("openai", "https://api.openai.com/v1")]
    public void Key_DependsOnTheProviderAndEndpoint(string provider, string endpoint)
    {
        Assert.NotEqual(ResponseCache.Key("openai", "emulator", Request), ResponseCache.Key(provider, endpoint, Request));
    }

    [Fact]
    public void Key_IgnoresATrailingSlashOfTheEndpoint()
    {
        Assert.Equal(ResponseCache.Key("openai", "https://api.openai.com/v1", Request), ResponseCache.Key("openai", "https://api.openai.com/v1/", Request));
    }

    [Fact]
    public void CanonicalJson_HoldsEveryField_AndLeavesNullsOut()
    {
        var json = ResponseCache.CanonicalJson(Request with { System = null });

        Assert.Equal("""{"model":"gpt-4o-mini","prior_turns":[{"role":"user","text":"2\u002B2?"},{"role":"assistant","text":"4"}],"user_text":"Classify: great knife","max_tokens":50,"temperature":0.2,"images":[]}""", json);
    }

    [Fact]
    public void Key_OfALocalImage_CoversTheFileBytes_NotOnlyItsPathAndSize()
    {
        // Given a request naming a local image, and the same file rewritten with other bytes of the same length
        var path = Path.Combine(Path.GetTempPath(), "bp-cache-" + Guid.NewGuid().ToString("N") + ".png");
        try
        {
            File.WriteAllBytes(path, [1, 2, 3, 4]);
            var request = Request with { Images = [new ImagePart { Kind = ImageSourceKind.File, Value = path, MediaType = "image/png", Length = 4 }] };
            var before = ResponseCache.Key("openai", "emulator", request);

            File.WriteAllBytes(path, [4, 3, 2, 1]);
            var after = ResponseCache.Key("openai", "emulator", request);

            // Then the key changes with the bytes, and stays the same while they do not
            Assert.NotEqual(before, after);
            Assert.Equal(after, ResponseCache.Key("openai", "emulator", request));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
