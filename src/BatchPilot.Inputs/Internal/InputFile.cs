using System.Text;

namespace BatchPilot.Inputs.Internal;

/// <summary>
/// The file a table is read from, open and checked: the path exists, is a readable file, is not empty and is text.
/// Standard input is copied to a temporary file first (deleted when this is disposed), so that both readers can make
/// a first pass over it, and so that an empty or binary input is reported before anything is read from it.
/// </summary>
internal sealed class InputFile : IDisposable
{
    private InputFile(string displayName, FileStream stream, bool isStandardInput)
    {
        DisplayName = displayName;
        Stream = stream;
        IsStandardInput = isStandardInput;
    }

    /// <summary>The path as the user gave it, or <c>&lt;stdin&gt;</c>.</summary>
    public string DisplayName { get; }

    /// <summary>The open file, seekable.</summary>
    public FileStream Stream { get; }

    /// <summary>Whether the content was copied from standard input or a pipe.</summary>
    public bool IsStandardInput { get; }

    /// <summary>Opens a file given by the user, or explains why it cannot be opened.</summary>
    /// <exception cref="BatchPilot.Errors.InputException">The path is empty, missing, a directory or unreadable.</exception>
    public static InputFile Open(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw InputErrors.NoPath();
        }

        var stream = OpenStream(path);
        if (stream.CanSeek)
        {
            return new InputFile(path, stream, isStandardInput: false);
        }

        // A pipe, such as bash's <(command) or /dev/stdin: both readers need to go back to the start.
        using (stream)
        {
            return Spool(stream, path);
        }
    }

    /// <summary>Copies <paramref name="input"/> to a temporary file that is deleted when the result is disposed.</summary>
    public static InputFile Spool(Stream input, string displayName)
    {
        var tempPath = Path.Combine(Path.GetTempPath(), $"batchpilot-input-{Guid.NewGuid():N}.tmp");
        var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, Limits.BufferSize,
            FileOptions.DeleteOnClose | FileOptions.SequentialScan);
        try
        {
            input.CopyTo(stream, Limits.BufferSize);
            stream.Flush();
            stream.Position = 0;
            return new InputFile(displayName, stream, isStandardInput: true);
        }
        catch (IOException ex)
        {
            stream.Dispose();
            throw InputErrors.CannotRead(displayName, ex);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/> for reading, turning every failure into an error the user can act on.</summary>
    /// <exception cref="BatchPilot.Errors.InputException">The path is missing, a directory or unreadable.</exception>
    public static FileStream OpenStream(string path)
    {
        if (Directory.Exists(path))
        {
            throw InputErrors.IsDirectory(path);
        }

        if (!File.Exists(path))
        {
            throw NotFound(path);
        }

        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, Limits.BufferSize, FileOptions.SequentialScan);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw InputErrors.PermissionDenied(path, ex);
        }
        catch (FileNotFoundException)
        {
            throw NotFound(path);
        }
        catch (DirectoryNotFoundException)
        {
            throw NotFound(path);
        }
        catch (IOException ex)
        {
            throw InputErrors.CannotRead(path, ex);
        }
    }

    /// <summary>
    /// Looks at the start of the file: refuses archives, binary files and empty files, finds the byte order mark, and
    /// returns the first characters of the text. Leaves the stream at its start.
    /// </summary>
    /// <param name="encoding">The encoding the user asked for, or <see langword="null"/> for UTF-8.</param>
    /// <param name="jsonl">Whether the file is read as JSONL (for the wording of the empty-file error).</param>
    public FileSniff Sniff(Encoding? encoding, bool jsonl)
    {
        try
        {
            return SniffCore(encoding, jsonl);
        }
        catch (IOException ex)
        {
            throw InputErrors.CannotRead(DisplayName, ex);
        }
    }

    private FileSniff SniffCore(Encoding? encoding, bool jsonl)
    {
        Stream.Position = 0;
        var head = new byte[Limits.SniffBytes];
        var count = Stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var bytes = head.AsSpan(0, count);
        if (count == 0)
        {
            throw InputErrors.Empty(DisplayName, whitespaceOnly: false, jsonl);
        }

        if (bytes.StartsWith("PK\x03\x04"u8))
        {
            throw InputErrors.ZipArchive(DisplayName);
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]))
        {
            throw InputErrors.OfficeDocument(DisplayName);
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]))
        {
            throw InputErrors.Gzip(DisplayName);
        }

        // A byte order mark says what the text is, whatever the options say.
        Encoding? effective = encoding;
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            effective = null;
        }
        else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0x00, 0x00]))
        {
            effective = Encoding.UTF32;
        }
        else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            effective = Encoding.Unicode;
        }
        else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            effective = Encoding.BigEndianUnicode;
        }

        var wide = effective is UnicodeEncoding or UTF32Encoding;
        if (!wide && bytes.Contains((byte)0))
        {
            throw InputErrors.NulBytes(DisplayName);
        }

        Stream.Position = 0;
        var text = ReadHead(effective ?? new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false));
        if (text is null)
        {
            throw InputErrors.Empty(DisplayName, whitespaceOnly: true, jsonl);
        }

        Stream.Position = 0;
        return new FileSniff(effective, text);
    }

    /// <summary>
    /// Reads the text from the start up to some way past the first non-blank character (enough for a header line).
    /// <see langword="null"/> when the whole file is blank.
    /// </summary>
    private string? ReadHead(Encoding encoding)
    {
        const int HeadChars = 64 * 1024;
        using var reader = new StreamReader(Stream, encoding, detectEncodingFromByteOrderMarks: true, Limits.BufferSize, leaveOpen: true);
        var buffer = new char[HeadChars];
        while (true)
        {
            var read = reader.ReadBlock(buffer, 0, buffer.Length);
            if (read == 0)
            {
                return null;
            }

            var chunk = buffer.AsSpan(0, read);
            var start = chunk.IndexOfAnyExcept(" \t\r\n\f\v\uFEFF");
            if (start >= 0)
            {
                // Keep what precedes the first non-blank character only when it is in this chunk: the line numbers
                // that matter are counted by the readers, not from this text.
                return new string(chunk);
            }
        }
    }

    private static Errors.InputException NotFound(string path)
    {
        if (!OperatingSystem.IsWindows() && LooksLikeWindowsPath(path))
        {
            return InputErrors.WindowsPath(path, WslPath(path));
        }

        return InputErrors.NotFound(path, Suggest(path));
    }

    private static bool LooksLikeWindowsPath(string path) =>
        (path.Length >= 3 && char.IsAsciiLetter(path[0]) && path[1] == ':' && path[2] is '\\' or '/')
        || path.Contains('\\', StringComparison.Ordinal);

    private static string? WslPath(string path)
    {
        if (path.Length >= 3 && char.IsAsciiLetter(path[0]) && path[1] == ':')
        {
            return "/mnt/" + char.ToLowerInvariant(path[0]) + "/" + path[3..].Replace('\\', '/');
        }

        return null;
    }

    /// <summary>A file in the same folder whose name differs only in case or extension, as the user would type it.</summary>
    private static string? Suggest(string path)
    {
        try
        {
            var full = Path.GetFullPath(path);
            var folder = Path.GetDirectoryName(full);
            if (folder is null || !Directory.Exists(folder))
            {
                return null;
            }

            var name = Path.GetFileName(full);
            var stem = Path.GetFileNameWithoutExtension(full);
            string? sameStem = null;
            foreach (var candidate in Directory.EnumerateFiles(folder).Take(10_000))
            {
                var candidateName = Path.GetFileName(candidate);
                if (candidateName.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return AsTyped(path, candidateName);
                }

                if (sameStem is null
                    && Path.GetFileNameWithoutExtension(candidateName).Equals(stem, StringComparison.OrdinalIgnoreCase)
                    && IsTableExtension(Path.GetExtension(candidateName)))
                {
                    sameStem = candidateName;
                }
            }

            return sameStem is null ? null : AsTyped(path, sameStem);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    private static bool IsTableExtension(string extension) =>
        extension.ToUpperInvariant() is ".CSV" or ".TSV" or ".TXT" or ".JSONL" or ".NDJSON" or ".JSON";

    private static string AsTyped(string typed, string fileName)
    {
        var slash = typed.LastIndexOf('/');
        return slash < 0 ? fileName : typed[..(slash + 1)] + fileName;
    }

    public void Dispose() => Stream.Dispose();
}

/// <summary>What the start of a file says about it.</summary>
/// <param name="Encoding">The encoding to read with; <see langword="null"/> for UTF-8, checked strictly.</param>
/// <param name="Head">The first characters of the text (at least up to the first non-blank character).</param>
internal sealed record FileSniff(Encoding? Encoding, string Head);
