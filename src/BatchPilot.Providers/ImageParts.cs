using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using BatchPilot.Errors;
using BatchPilot.Planning;

namespace BatchPilot.Providers;

/// <summary>
/// Writes the image parts of request bodies. A local file is read only here, when its request is written, and is
/// written as base64 straight into the JSON (no escaping: base64 needs none). While a request is only being measured
/// (<see cref="JsonLines.Measure"/>), no file is read: the base64 length is counted from the file size instead, so
/// batch splitting sees the true size.
/// </summary>
internal static class ImageParts
{
    /// <summary>
    /// The user message's <c>content</c>: the text as a string, or with images an array of the image parts (written by
    /// <paramref name="writeImage"/>) followed by one text part: images first, as both providers recommend.
    /// </summary>
    /// <param name="w">Where to write.</param>
    /// <param name="r">The request.</param>
    /// <param name="writeImage">Writes one image part in the API's shape.</param>
    /// <param name="textType">The text part's type: <c>text</c> (chat completions, Anthropic) or <c>input_text</c> (Responses API).</param>
    public static void WriteUserContent(Utf8JsonWriter w, LlmRequest r, Action<Utf8JsonWriter, ImagePart> writeImage, string textType = "text")
    {
        if (r.Images.Count == 0)
        {
            w.WriteString("content", r.UserText);
            return;
        }

        w.WriteStartArray("content");
        foreach (var image in r.Images)
        {
            writeImage(w, image);
        }

        w.WriteStartObject();
        w.WriteString("type", textType);
        w.WriteString("text", r.UserText);
        w.WriteEndObject();
        w.WriteEndArray();
    }

    /// <summary>OpenAI chat: <c>{"type":"image_url","image_url":{"url":"data:image/png;base64,…"}}</c> or the http(s) URL.</summary>
    public static void WriteOpenAI(Utf8JsonWriter w, ImagePart image)
    {
        w.WriteStartObject();
        w.WriteString("type", "image_url");
        w.WriteStartObject("image_url");
        w.WritePropertyName("url");
        WriteUrlValue(w, image);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The image as an OpenAI URL value: the http(s) URL, or a <c>data:</c> URL with the base64 bytes.</summary>
    private static void WriteUrlValue(Utf8JsonWriter w, ImagePart image)
    {
        if (image.Kind == ImageSourceKind.Url)
        {
            w.WriteStringValue(image.Value);
        }
        else
        {
            WriteBase64Value(w, "data:" + image.MediaType + ";base64,", image);
        }
    }

    /// <summary>
    /// OpenAI Responses API input part: <c>{"type":"input_image","image_url":"data:image/png;base64,…"}</c> or the
    /// http(s) URL (for the Responses body writer; the chat writer uses <see cref="WriteOpenAI"/>).
    /// </summary>
    public static void WriteResponses(Utf8JsonWriter w, ImagePart image)
    {
        w.WriteStartObject();
        w.WriteString("type", "input_image");
        w.WritePropertyName("image_url");
        WriteUrlValue(w, image);
        w.WriteEndObject();
    }

    /// <summary>
    /// Anthropic: <c>{"type":"image","source":{"type":"base64","media_type":…,"data":…}}</c>, or
    /// <c>{"type":"image","source":{"type":"url","url":…}}</c> for an http(s) URL.
    /// </summary>
    public static void WriteAnthropic(Utf8JsonWriter w, ImagePart image)
    {
        w.WriteStartObject();
        w.WriteString("type", "image");
        w.WriteStartObject("source");
        if (image.Kind == ImageSourceKind.Url)
        {
            w.WriteString("type", "url");
            w.WriteString("url", image.Value);
        }
        else
        {
            w.WriteString("type", "base64");
            w.WriteString("media_type", image.MediaType);
            w.WritePropertyName("data");
            WriteBase64Value(w, string.Empty, image);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteBase64Value(Utf8JsonWriter w, string prefix, ImagePart image)
    {
        if (JsonLines.Measuring)
        {
            // Same bytes as below, less the base64 text, which is counted instead of produced.
            w.WriteStringValue(prefix);
            JsonLines.AddMeasuredBytes(image.Base64Length);
            return;
        }

        var bytes = ReadBytes(image);
        var prefixLength = Encoding.ASCII.GetByteCount(prefix);
        var total = prefixLength + Base64.GetMaxEncodedToUtf8Length(bytes.Length) + 2;
        var buffer = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            buffer[0] = (byte)'"';
            Encoding.ASCII.GetBytes(prefix, buffer.AsSpan(1));
            Base64.EncodeToUtf8(bytes, buffer.AsSpan(1 + prefixLength), out _, out var written);
            buffer[1 + prefixLength + written] = (byte)'"';
            w.WriteRawValue(buffer.AsSpan(0, prefixLength + written + 2), skipInputValidation: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static byte[] ReadBytes(ImagePart image)
    {
        if (image.Kind == ImageSourceKind.DataUrl)
        {
            return Convert.FromBase64String(ImageInputs.ParseDataUrl(image.Value)!.Value.Data);
        }

        try
        {
            return File.ReadAllBytes(image.Value);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InputException($"the image file '{image.Value}' could not be read when its request was written ({ex.Message}); it was readable when the job was planned",
                ex, file: image.Value, field: "--image-column", hint: "put the file back and rerun the same command: nothing of this batch was sent");
        }
    }
}
