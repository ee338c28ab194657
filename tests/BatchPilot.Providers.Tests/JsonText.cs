using System.Text;
using System.Text.Json;

namespace BatchPilot.Providers.Tests;

/// <summary>What a JSON writer callback writes, as a string (for asserting exact wire bodies).</summary>
internal static class JsonText
{
    public static string Write(Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            write(w);
        }

        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
