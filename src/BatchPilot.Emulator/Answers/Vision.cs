using System.Globalization;
using System.Text;
using System.Text.Json;

namespace BatchPilot.Emulator.Answers;

/// <summary>An image found in a request: its media type and decoded size, or the URL it names.</summary>
internal readonly record struct SeenImage(string? MediaType, long Bytes, string? Url);

/// <summary>A request's image problem as the real API reports it (HTTP 400).</summary>
internal sealed record ImageError(string Message, string? Param, string? Code);

/// <summary>
/// Reads and checks the image parts of request bodies like the real APIs: OpenAI chat <c>image_url</c> parts
/// (http(s) or <c>data:image/…;base64,</c> URLs), Responses <c>input_image</c> parts, and Anthropic <c>image</c> blocks
/// (<c>base64</c> with <c>media_type</c>, or <c>url</c>). Base64 must decode, the bytes must be a PNG, JPEG, GIF or WebP
/// image of the declared type, and Anthropic's 5 MB per-image limit (on the base64 text) applies.
/// </summary>
internal static class Vision
{
    public const long AnthropicMaxBase64 = 5L * 1024 * 1024;

    private static readonly string[] Supported = ["image/jpeg", "image/png", "image/gif", "image/webp"];

    /// <summary>The images of the last user message, and the first problem of any image in the body.</summary>
    public static (List<SeenImage> Images, ImageError? Error) Inspect(JsonElement body, Responder.Shape shape)
    {
        var last = new List<SeenImage>();
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (last, null);
        }
        var listName = shape == Responder.Shape.Responses ? "input" : "messages";
        if (!body.TryGetProperty(listName, out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return (last, null);
        }
        var m = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var isUser = message.ValueKind == JsonValueKind.Object && (!message.TryGetProperty("role", out var role) || role.ValueEquals("user"u8));
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            {
                if (isUser)
                {
                    last.Clear();
                }
                m++;
                continue;
            }
            var images = new List<SeenImage>();
            var c = 0;
            foreach (var part in content.EnumerateArray())
            {
                var (image, error) = shape switch
                {
                    Responder.Shape.AnthropicMessages => Anthropic(part, $"messages.{m}.content.{c}"),
                    Responder.Shape.Responses => OpenAI(part, $"input[{m}].content[{c}]", "input_image"),
                    _ => OpenAI(part, $"messages[{m}].content[{c}]", "image_url"),
                };
                if (error is not null)
                {
                    return (last, error);
                }
                if (image is { } i)
                {
                    images.Add(i);
                }
                c++;
            }
            if (isUser)
            {
                last = images;
            }
            m++;
        }
        return (last, null);
    }

    private static (SeenImage?, ImageError?) OpenAI(JsonElement part, string path, string type)
    {
        if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var t) || !t.ValueEquals(type))
        {
            return (null, null);
        }
        string? url = null;
        if (part.TryGetProperty("image_url", out var iu))
        {
            url = iu.ValueKind == JsonValueKind.String ? iu.GetString()
                : iu.ValueKind == JsonValueKind.Object && iu.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        }
        var param = type == "image_url" ? path + ".image_url.url" : path + ".image_url";
        if (url is null)
        {
            return (null, new ImageError($"Missing required parameter: '{param}'.", param, "missing_required_parameter"));
        }
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return (new SeenImage(null, 0, url), null);
        }
        var invalid = new ImageError($"Invalid '{param}'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an invalid value.", param, "invalid_value");
        var comma = url.IndexOf(',', StringComparison.Ordinal);
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase) || comma < 0 || !url[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
        {
            return (null, invalid);
        }
        var declared = url[5..(comma - 7)].ToLowerInvariant();
        var bytes = Decode(url.AsSpan(comma + 1));
        if (bytes is null || bytes.Length == 0)
        {
            return (null, invalid);
        }
        var actual = Sniff(bytes);
        if (actual is null || !Supported.Contains(declared))
        {
            return (null, new ImageError("You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].", null, "invalid_image_format"));
        }
        return (new SeenImage(actual, bytes.Length, null), null);
    }

    private static (SeenImage?, ImageError?) Anthropic(JsonElement part, string path)
    {
        if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var t) || !t.ValueEquals("image"u8))
        {
            return (null, null);
        }
        if (!part.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.Object)
        {
            return (null, new ImageError($"{path}.image.source: Field required", null, null));
        }
        var kind = source.TryGetProperty("type", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
        if (kind == "url")
        {
            return source.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String
                ? (new SeenImage(null, 0, u.GetString()), null)
                : (null, new ImageError($"{path}.image.source.url.url: Field required", null, null));
        }
        if (kind != "base64")
        {
            return (null, new ImageError($"{path}.image.source: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'", null, null));
        }
        var mediaType = source.TryGetProperty("media_type", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
        if (mediaType is null || !Supported.Contains(mediaType))
        {
            return (null, new ImageError($"{path}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", null, null));
        }
        var data = source.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "";
        if (data.Length == 0)
        {
            return (null, new ImageError($"{path}.image.source.base64: image cannot be empty", null, null));
        }
        if (data.Length > AnthropicMaxBase64)
        {
            return (null, new ImageError($"{path}.image.source.base64: image exceeds 5 MB maximum: {data.Length.ToString(CultureInfo.InvariantCulture)} bytes > {AnthropicMaxBase64.ToString(CultureInfo.InvariantCulture)} bytes", null, null));
        }
        var bytes = Decode(data);
        if (bytes is null)
        {
            return (null, new ImageError($"{path}.image.source.base64.data: Invalid base64 data", null, null));
        }
        if (Sniff(bytes) != mediaType)
        {
            return (null, new ImageError($"{path}.image.source.base64.data: Image does not match the provided media type {mediaType}", null, null));
        }
        return (new SeenImage(mediaType, bytes.Length, null), null);
    }

    private static byte[]? Decode(ReadOnlySpan<char> base64)
    {
        var buffer = new byte[base64.Length / 4 * 3 + 3];
        return Convert.TryFromBase64Chars(base64, buffer, out var written) ? buffer[..written] : null;
    }

    /// <summary>The media type of image bytes from their magic bytes, or null.</summary>
    public static string? Sniff(ReadOnlySpan<byte> b)
    {
        if (b.Length >= 8 && b[..8].SequenceEqual((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            return "image/png";
        }
        if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        {
            return "image/jpeg";
        }
        if (b.Length >= 6 && (b[..6].SequenceEqual("GIF87a"u8) || b[..6].SequenceEqual("GIF89a"u8)))
        {
            return "image/gif";
        }
        if (b.Length >= 12 && b[..4].SequenceEqual("RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8))
        {
            return "image/webp";
        }
        return null;
    }

    /// <summary>What the deterministic answer says about the images: <c>[1 image: image/png, 1234 bytes]</c>.</summary>
    public static string Describe(IReadOnlyList<SeenImage> images)
    {
        if (images.Count == 0)
        {
            return "";
        }
        var sb = new StringBuilder(" [");
        sb.Append(images.Count.ToString(CultureInfo.InvariantCulture)).Append(images.Count == 1 ? " image: " : " images: ");
        for (var i = 0; i < images.Count; i++)
        {
            if (i > 0)
            {
                sb.Append("; ");
            }
            var image = images[i];
            if (image.Url is not null)
            {
                sb.Append("url ").Append(image.Url);
            }
            else
            {
                sb.Append(image.MediaType).Append(", ").Append(image.Bytes.ToString(CultureInfo.InvariantCulture)).Append(" bytes");
            }
        }
        return sb.Append(']').ToString();
    }
}
