using BatchPilot.Errors;

namespace BatchPilot.Exports;

/// <summary>
/// Writes a set of files into a temporary sibling folder, then moves the folder into place: readers see the
/// old set or the new one, never a half-written mix. A folder is replaced only when it is empty or holds a
/// previous export (it carries the <see cref="MarkerName"/> file), so a mistyped path cannot wipe a user's folder.
/// </summary>
internal static class AtomicFolder
{
    /// <summary>The file that marks a folder as written by an export (a small JSON description).</summary>
    public const string MarkerName = ".batchpilot-export";

    /// <summary>Checks that a folder export can be written at <paramref name="path"/> before any work starts.</summary>
    /// <exception cref="InputException">The parent folder is missing or not writable, the path is a file, or a folder that is not an export.</exception>
    public static void EnsureWritable(string path, string option = "--out")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (path.Length > 2 && char.IsAsciiLetter(path[0]) && path[1] == ':' && (path[2] == '\\' || path[2] == '/') && !OperatingSystem.IsWindows())
        {
            throw new InputException("this is a Windows path", file: path, field: option, hint: "give a path on this machine, with forward slashes");
        }

        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var parent = Path.GetDirectoryName(full);
        if (parent is null)
        {
            throw new InputException("the output folder cannot be the root of a drive", file: path, field: option, hint: "give a folder name, e.g. ./export");
        }

        if (!Directory.Exists(parent))
        {
            throw new InputException("the folder that should hold the output folder does not exist", file: path, field: option, hint: $"create {parent} first, or choose another path");
        }

        if (File.Exists(full))
        {
            throw new InputException("the output path is a file, but --split writes a folder", file: path, field: option, hint: "give a folder name (it is created if missing)");
        }

        if (Directory.Exists(full) && !File.Exists(Path.Combine(full, MarkerName)) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new InputException("the output folder is not empty and holds no earlier export", file: path, field: option,
                hint: "choose a new or empty folder: an export replaces its whole folder");
        }

        var probe = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.probe");
        try
        {
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InputException("the folder that should hold the output folder is not writable", ex, file: path, field: option, hint: "choose a folder you can write to");
        }
    }

    /// <summary>Runs <paramref name="write"/> on a new temporary folder, then puts that folder in place of <paramref name="path"/>.</summary>
    public static async Task WriteAsync(string path, Func<string, Task> write, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(write);
        ArgumentNullException.ThrowIfNull(time);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var parent = Path.GetDirectoryName(full)!;
        var name = Path.GetFileName(full);
        RemoveStale(parent, name, time);
        var tmp = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(tmp);
        try
        {
            await write(tmp).ConfigureAwait(false);
            Swap(tmp, full, parent, name);
        }
        finally
        {
            DeleteQuietly(tmp);
        }
    }

    private static void Swap(string tmp, string full, string parent, string name)
    {
        if (!Directory.Exists(full))
        {
            Directory.Move(tmp, full);
            return;
        }

        // Two renames: the previous export steps aside, the new one takes its name, the old one is deleted.
        var old = Path.Combine(parent, $".{name}.{Guid.NewGuid():N}.old");
        Directory.Move(full, old);
        try
        {
            Directory.Move(tmp, full);
        }
        catch
        {
            Directory.Move(old, full);
            throw;
        }

        DeleteQuietly(old);
    }

    /// <summary>Deletes temporary folders left beside the target by a writer that was killed (older than a minute).</summary>
    private static void RemoveStale(string parent, string name, TimeProvider time)
    {
        var limit = time.GetUtcNow().UtcDateTime.AddMinutes(-1);
        foreach (var pattern in new[] { $".{name}.*.tmp", $".{name}.*.old" })
        {
            foreach (var stale in Directory.EnumerateDirectories(parent, pattern))
            {
                try
                {
                    if (Directory.GetLastWriteTimeUtc(stale) < limit)
                    {
                        DeleteQuietly(stale);
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
    }

    private static void DeleteQuietly(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
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
