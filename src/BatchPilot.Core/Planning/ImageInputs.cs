using System.Globalization;
using BatchPilot.Errors;
using BatchPilot.Providers;

namespace BatchPilot.Planning;

/// <summary>The image limits of a provider's API, checked before anything is sent.</summary>
/// <param name="MaxImageBytes">Most bytes of one image.</param>
/// <param name="CountsBase64">True when the per-image limit applies to the base64 text (Anthropic), false for raw bytes.</param>
/// <param name="MaxImagesPerRequest">Most images in one request.</param>
/// <param name="MaxImageBytesPerRequest">Most image bytes (base64 text) in one request.</param>
/// <param name="MaxPixels">Longest allowed side in pixels, when the provider has one.</param>
public readonly record struct ImageLimits(long MaxImageBytes, bool CountsBase64, int MaxImagesPerRequest, long MaxImageBytesPerRequest, int? MaxPixels)
{
    /// <summary>
    /// OpenAI vision input: PNG, JPEG, WebP, non-animated GIF; up to 20 MB per image, 500 images and 50 MB of image bytes
    /// per request (the vision guide's input requirements).
    /// </summary>
    public static readonly ImageLimits OpenAI = new(20L * 1024 * 1024, false, 500, 50L * 1024 * 1024, null);

    /// <summary>
    /// Anthropic Messages API: 5 MB per image as base64 text, 100 images per request, 8000×8000 px at most, and the
    /// 32 MB request size limit.
    /// </summary>
    public static readonly ImageLimits Anthropic = new(5L * 1024 * 1024, true, 100, 32L * 1024 * 1024, 8000);

    /// <summary>The limits of a provider.</summary>
    public static ImageLimits Of(string provider) => provider == ProviderNames.Anthropic ? Anthropic : OpenAI;
}

/// <summary>Why an image cannot be sent; the item fails (or is skipped) with this code and message before it is sent.</summary>
/// <param name="Code"><c>image_not_found</c>, <c>image_unreadable</c>, <c>image_unsupported_type</c>, <c>image_too_large</c> or <c>image_invalid</c>.</param>
/// <param name="Message">One sentence naming the file, the row and the column.</param>
public sealed record ImageProblem(string Code, string Message)
{
    /// <summary>The error code of an item skipped with <c>--skip-missing-images</c> (its status is cancelled, shown as <c>skipped</c>).</summary>
    public const string SkippedCode = "image_skipped";
}

/// <summary>
/// Turns the image cells of a row into <see cref="ImagePart"/>s. A cell holds an http(s) URL (sent as a URL), a
/// <c>data:</c> URL (passed through) or a local path: relative paths are looked up in the job's image folders in order
/// (the input file's folder, then the working folder); backslashes work as folder separators. An empty cell means no
/// image. Local files are only probed here (size, magic bytes, pixel size from the header); their bytes are read when
/// the request body is written. Thread-safe.
/// </summary>
public sealed class ImageInputs
{
    private readonly int[] _indexes;
    private readonly string[] _names;
    private readonly IReadOnlyList<string> _folders;
    private readonly string _provider;
    private readonly ImageLimits _limits;

    private ImageInputs(int[] indexes, string[] names, IReadOnlyList<string> folders, string provider)
    {
        _indexes = indexes;
        _names = names;
        _folders = folders;
        _provider = provider;
        _limits = ImageLimits.Of(provider);
    }

    /// <summary>True when the job has image columns.</summary>
    public bool Any => _indexes.Length > 0;

    /// <summary>The image columns, as named in the input.</summary>
    public IReadOnlyList<string> Columns => _names;

    /// <summary>Resolves the image column names against the input's columns.</summary>
    /// <param name="imageColumns">The names given with <c>--image-column</c>.</param>
    /// <param name="folders">Folders to look relative paths up in, in order.</param>
    /// <param name="provider">The provider (its limits apply).</param>
    /// <param name="columns">The input's columns.</param>
    /// <param name="inputName">The input as the user named it, for errors.</param>
    /// <exception cref="InputException">A name matches no column.</exception>
    public static ImageInputs Create(IReadOnlyList<string> imageColumns, IReadOnlyList<string> folders, string provider, IReadOnlyList<string> columns, string? inputName = null)
    {
        ArgumentNullException.ThrowIfNull(imageColumns);
        ArgumentNullException.ThrowIfNull(folders);
        ArgumentNullException.ThrowIfNull(columns);
        var indexes = new List<int>();
        var names = new List<string>();
        foreach (var name in SplitNames(imageColumns, columns))
        {
            var index = IndexOf(columns, name);
            if (index < 0)
            {
                throw new InputException($"the image column '{name}' is not in the input", file: inputName, field: "--image-column",
                    hint: "use one of: " + string.Join(", ", columns) + " (quote names with spaces: --image-column \"Image Path\")");
            }

            if (!indexes.Contains(index))
            {
                indexes.Add(index);
                names.Add(columns[index]);
            }
        }

        return new ImageInputs([.. indexes], [.. names], folders, provider);
    }

    /// <summary>
    /// The column names of <c>--image-column</c> values: a value that names a column is that column (even with commas);
    /// otherwise it is a comma-separated list.
    /// </summary>
    public static IEnumerable<string> SplitNames(IReadOnlyList<string> values, IReadOnlyList<string> columns)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(columns);
        foreach (var value in values)
        {
            if (IndexOf(columns, value) >= 0 || !value.Contains(',', StringComparison.Ordinal))
            {
                yield return value.Trim();
                continue;
            }

            foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                yield return part;
            }
        }
    }

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        var trimmed = name.Trim();
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], name, StringComparison.Ordinal) || string.Equals(columns[i].Trim(), trimmed, StringComparison.Ordinal))
            {
                return i;
            }
        }

        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i].Trim(), trimmed, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The images of a row, or the first problem that stops the row from being sent.</summary>
    /// <param name="values">The row's values.</param>
    /// <param name="row">The row number (spreadsheet row or JSONL line) for messages, when known.</param>
    public (IReadOnlyList<ImagePart> Images, ImageProblem? Problem) Resolve(IReadOnlyList<string?> values, long? row = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (_indexes.Length == 0)
        {
            return ([], null);
        }

        var parts = new List<ImagePart>(_indexes.Length);
        long total = 0;
        for (var i = 0; i < _indexes.Length; i++)
        {
            var raw = _indexes[i] < values.Count ? values[_indexes[i]]?.Trim() : null;
            if (string.IsNullOrEmpty(raw))
            {
                continue;
            }

            var where = Where(row, _names[i]);
            var (part, problem) = ResolveOne(raw, where);
            if (problem is not null)
            {
                return (parts, problem);
            }

            var size = _limits.CountsBase64 ? part!.Base64Length : part!.Length;
            if (part.Kind != ImageSourceKind.Url && size > _limits.MaxImageBytes)
            {
                return (parts, new ImageProblem("image_too_large",
                    $"the image '{raw}' is {Bytes(size)}{(_limits.CountsBase64 ? " as base64" : string.Empty)}; {_provider} accepts at most {Bytes(_limits.MaxImageBytes)} per image ({where})"));
            }

            if (_limits.MaxPixels is { } maxPx && (part.Width > maxPx || part.Height > maxPx))
            {
                return (parts, new ImageProblem("image_too_large",
                    $"the image '{raw}' is {part.Width}×{part.Height} px; {_provider} accepts at most {maxPx}×{maxPx} px ({where})"));
            }

            total += part.Kind == ImageSourceKind.Url ? 0 : part.Base64Length;
            parts.Add(part);
        }

        if (parts.Count > _limits.MaxImagesPerRequest)
        {
            return (parts, new ImageProblem("image_too_large", $"the row has {parts.Count} images; {_provider} accepts at most {_limits.MaxImagesPerRequest} per request ({Where(row, null)})"));
        }

        if (total > _limits.MaxImageBytesPerRequest)
        {
            return (parts, new ImageProblem("image_too_large", $"the row's images take {Bytes(total)} as base64; {_provider} accepts at most {Bytes(_limits.MaxImageBytesPerRequest)} per request ({Where(row, null)})"));
        }

        return (parts, null);
    }

    private static string Where(long? row, string? column)
    {
        var r = row is { } n ? "row " + n.ToString(CultureInfo.InvariantCulture) : null;
        var c = column is null ? null : $"column '{column}'";
        return string.Join(", ", new[] { r, c }.Where(x => x is not null));
    }

    private (ImagePart? Part, ImageProblem? Problem) ResolveOne(string value, string where)
    {
        if (value.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return Uri.TryCreate(value, UriKind.Absolute, out _)
                ? (new ImagePart { Kind = ImageSourceKind.Url, Value = value }, null)
                : (null, new ImageProblem("image_invalid", $"'{value}' is not a valid URL ({where})"));
        }

        if (value.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            return DataUrl(value, where);
        }

        return LocalFile(value, where);
    }

    /// <summary>Splits a <c>data:MEDIA;base64,DATA</c> URL; null when it is not one.</summary>
    public static (string MediaType, string Data)? ParseDataUrl(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var comma = value.IndexOf(',', StringComparison.Ordinal);
        if (!value.StartsWith("data:", StringComparison.OrdinalIgnoreCase) || comma < 0)
        {
            return null;
        }

        var meta = value[5..comma];
        if (!meta.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        return (meta[..^7].Trim().ToLowerInvariant(), value[(comma + 1)..]);
    }

    private static (ImagePart? Part, ImageProblem? Problem) DataUrl(string value, string where)
    {
        var shown = value.Length > 40 ? value[..40] + "…" : value;
        if (ParseDataUrl(value) is not { } parsed)
        {
            return (null, new ImageProblem("image_invalid", $"the data URL '{shown}' is not data:<media type>;base64,<data> ({where})"));
        }

        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(parsed.Data);
        }
        catch (FormatException)
        {
            return (null, new ImageProblem("image_invalid", $"the data URL '{shown}' does not hold valid base64 ({where})"));
        }

        var header = ImageHeader.Read(bytes);
        if (header is null)
        {
            return (null, new ImageProblem("image_unsupported_type", $"the data URL '{shown}' is not a PNG, JPEG, GIF or WebP image ({where})"));
        }

        if (header.Value.MediaType != parsed.MediaType)
        {
            return (null, new ImageProblem("image_invalid", $"the data URL '{shown}' says {parsed.MediaType} but holds a {header.Value.MediaType} image ({where})"));
        }

        return (new ImagePart { Kind = ImageSourceKind.DataUrl, Value = value, MediaType = header.Value.MediaType, Length = bytes.Length, Width = header.Value.Width, Height = header.Value.Height }, null);
    }

    private (ImagePart? Part, ImageProblem? Problem) LocalFile(string value, string where)
    {
        var path = value;
        if (path.StartsWith("file://", StringComparison.OrdinalIgnoreCase) && Uri.TryCreate(path, UriKind.Absolute, out var fileUri))
        {
            path = fileUri.LocalPath;
        }

        if (Path.DirectorySeparatorChar == '/')
        {
            path = path.Replace('\\', '/');
        }

        string? found = null;
        if (Path.IsPathRooted(path))
        {
            found = File.Exists(path) ? path : null;
        }
        else
        {
            foreach (var folder in _folders)
            {
                var candidate = Path.GetFullPath(Path.Combine(folder, path));
                if (File.Exists(candidate))
                {
                    found = candidate;
                    break;
                }
            }
        }

        if (found is null)
        {
            var looked = Path.IsPathRooted(path) || _folders.Count == 0 ? string.Empty : "; looked in " + string.Join(" and ", _folders.Distinct(StringComparer.Ordinal));
            return (null, new ImageProblem("image_not_found", $"image file not found: '{value}' ({where}{looked})"));
        }

        try
        {
            using var stream = new FileStream(found, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            var length = stream.Length;
            var header = ImageHeader.Read(stream);
            if (header is null)
            {
                return (null, new ImageProblem("image_unsupported_type", $"'{value}' is not a PNG, JPEG, GIF or WebP image (checked from its content, not its name) ({where})"));
            }

            return (new ImagePart { Kind = ImageSourceKind.File, Value = found, MediaType = header.Value.MediaType, Length = length, Width = header.Value.Width, Height = header.Value.Height }, null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, new ImageProblem("image_unreadable", $"the image file '{value}' cannot be read ({ex.Message}) ({where})"));
        }
    }

    private static string Bytes(long n) => n >= 1024 * 1024
        ? (n / 1024.0 / 1024.0).ToString("0.##", CultureInfo.InvariantCulture) + " MB"
        : n >= 1024 ? (n / 1024.0).ToString("0.#", CultureInfo.InvariantCulture) + " KB" : n.ToString(CultureInfo.InvariantCulture) + " bytes";
}
