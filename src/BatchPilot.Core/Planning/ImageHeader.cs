using System.Buffers.Binary;

namespace BatchPilot.Planning;

/// <summary>What the first bytes of an image file say: its media type and, when the header holds them, its pixel size.</summary>
/// <param name="MediaType"><c>image/png</c>, <c>image/jpeg</c>, <c>image/gif</c> or <c>image/webp</c>.</param>
/// <param name="Width">Pixel width, when found.</param>
/// <param name="Height">Pixel height, when found.</param>
public readonly record struct ImageHeaderInfo(string MediaType, int? Width, int? Height);

/// <summary>
/// Recognises PNG, JPEG, GIF and WebP from their magic bytes (never from the file name) and reads the pixel size from
/// the header (PNG IHDR, GIF logical screen, JPEG SOFn marker, WebP VP8/VP8L/VP8X chunk) without decoding the image.
/// </summary>
public static class ImageHeader
{
    /// <summary>The media types the providers accept.</summary>
    public static readonly IReadOnlyList<string> SupportedMediaTypes = ["image/png", "image/jpeg", "image/gif", "image/webp"];

    /// <summary>Bytes read at most to find a JPEG's size marker (EXIF blocks come first and may be large).</summary>
    public const int MaxJpegScan = 1 << 20;

    /// <summary>Reads the header of an image stream; null when the bytes are not a PNG, JPEG, GIF or WebP image.</summary>
    /// <param name="stream">A readable stream positioned at the image's first byte.</param>
    public static ImageHeaderInfo? Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> head = stackalloc byte[32];
        var n = ReadAtMost(stream, head);
        head = head[..n];
        if (n >= 24 && head[..8].SequenceEqual((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            return new ImageHeaderInfo("image/png", (int)BinaryPrimitives.ReadUInt32BigEndian(head[16..]), (int)BinaryPrimitives.ReadUInt32BigEndian(head[20..]));
        }

        if (n >= 10 && (head[..6].SequenceEqual("GIF87a"u8) || head[..6].SequenceEqual("GIF89a"u8)))
        {
            return new ImageHeaderInfo("image/gif", BinaryPrimitives.ReadUInt16LittleEndian(head[6..]), BinaryPrimitives.ReadUInt16LittleEndian(head[8..]));
        }

        if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF)
        {
            var (w, h) = JpegSize(head, stream);
            return new ImageHeaderInfo("image/jpeg", w, h);
        }

        if (n >= 16 && head[..4].SequenceEqual("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8))
        {
            var (w, h) = WebpSize(head);
            return new ImageHeaderInfo("image/webp", w, h);
        }

        return null;
    }

    /// <summary>Reads the header of image bytes in memory (a decoded data URL); null when not a supported image.</summary>
    public static ImageHeaderInfo? Read(ReadOnlySpan<byte> bytes)
    {
        using var ms = new MemoryStream(bytes.ToArray(), writable: false);
        return Read(ms);
    }

    private static int ReadAtMost(Stream stream, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = stream.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static (int? Width, int? Height) WebpSize(ReadOnlySpan<byte> head)
    {
        if (head.Length < 30)
        {
            return (null, null);
        }

        var chunk = head[12..16];
        if (chunk.SequenceEqual("VP8X"u8))
        {
            // 24-bit canvas width-1 and height-1 at offsets 24 and 27.
            var w = head[24] | (head[25] << 8) | (head[26] << 16);
            var h = head[27] | (head[28] << 8) | (head[29] << 16);
            return (w + 1, h + 1);
        }

        if (chunk.SequenceEqual("VP8L"u8) && head[20] == 0x2F)
        {
            var bits = BinaryPrimitives.ReadUInt32LittleEndian(head[21..]);
            return ((int)(bits & 0x3FFF) + 1, (int)((bits >> 14) & 0x3FFF) + 1);
        }

        if (chunk.SequenceEqual("VP8 "u8) && head[23] == 0x9D && head[24] == 0x01 && head[25] == 0x2A)
        {
            return (BinaryPrimitives.ReadUInt16LittleEndian(head[26..]) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(head[28..]) & 0x3FFF);
        }

        return (null, null);
    }

    private static (int? Width, int? Height) JpegSize(ReadOnlySpan<byte> head, Stream stream)
    {
        // Walk the marker segments after SOI (offset 2) until a start-of-frame marker, which holds height then width.
        var bytes = new List<byte>(head.Length + 4096);
        bytes.AddRange(head);
        var pos = 2;
        var chunk = new byte[4096];

        bool Ensure(int count)
        {
            while (bytes.Count < pos + count)
            {
                if (bytes.Count >= MaxJpegScan)
                {
                    return false;
                }

                var n = stream.Read(chunk);
                if (n == 0)
                {
                    return false;
                }

                for (var i = 0; i < n; i++)
                {
                    bytes.Add(chunk[i]);
                }
            }

            return true;
        }

        while (Ensure(4))
        {
            if (bytes[pos] != 0xFF)
            {
                return (null, null);
            }

            var marker = bytes[pos + 1];
            if (marker == 0xFF)
            {
                pos++;
                continue;
            }

            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7))
            {
                pos += 2;
                continue;
            }

            var length = (bytes[pos + 2] << 8) | bytes[pos + 3];
            var isFrame = marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;
            if (isFrame)
            {
                if (!Ensure(9))
                {
                    return (null, null);
                }

                var h = (bytes[pos + 5] << 8) | bytes[pos + 6];
                var w = (bytes[pos + 7] << 8) | bytes[pos + 8];
                return (w, h);
            }

            if (marker is 0xD9 or 0xDA || length < 2)
            {
                return (null, null);
            }

            // Skip this segment; read ahead only as far as needed.
            var next = pos + 2 + length;
            if (next > MaxJpegScan)
            {
                return (null, null);
            }

            pos = next;
        }

        return (null, null);
    }
}
