using BatchPilot.Errors;

namespace BatchPilot.Exports;

/// <summary>Writes a file through a temporary sibling moved into place at the end: no half-written output.</summary>
public static class AtomicFile
{
    /// <summary>Checks that a file can be written at <paramref name="path"/> before any work starts.</summary>
    /// <exception cref="InputException">The folder is missing, or the location is not writable.</exception>
    public static void EnsureWritable(string path, string option = "--out")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (path.Length > 2 && char.IsAsciiLetter(path[0]) && path[1] == ':' && (path[2] == '\\' || path[2] == '/') && !OperatingSystem.IsWindows())
        {
            throw new InputException("this is a Windows path", file: path, field: option, hint: "give a path on this machine, with forward slashes");
        }

        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir))
        {
            throw new InputException("the output folder does not exist", file: path, field: option, hint: $"create {dir} first, or choose another path");
        }

        if (Directory.Exists(full))
        {
            throw new InputException("the output path is a folder", file: path, field: option, hint: "give a file name");
        }

        var probe = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.probe");
        try
        {
            using (File.Create(probe))
            {
            }

            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InputException("the output folder is not writable", ex, file: path, field: option, hint: "choose a folder you can write to");
        }
    }

    /// <summary>Runs <paramref name="write"/> on a temporary file, then moves it over <paramref name="path"/>.</summary>
    public static async Task WriteAsync(string path, Func<Stream, Task> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        RemoveStale(dir, Path.GetFileName(full));
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await write(stream).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
            }

            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp))
            {
                File.Delete(tmp);
            }
        }
    }

    /// <summary>Deletes temporaries left beside the target by a writer that was killed (older than a minute).</summary>
    private static void RemoveStale(string dir, string name)
    {
        foreach (var stale in Directory.EnumerateFiles(dir, $".{name}.*.tmp"))
        {
            try
            {
                if (File.GetLastWriteTimeUtc(stale) < DateTime.UtcNow.AddMinutes(-1) || !IsOpen(stale))
                {
                    File.Delete(stale);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsOpen(string path)
    {
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }
}
