using System.Security.Cryptography;
using System.Text.RegularExpressions;
using BatchPilot.Errors;
using Microsoft.AspNetCore.Http;

namespace BatchPilot.Web.Data;

/// <summary>An uploaded or picked input file.</summary>
/// <param name="Reference">What the forms send back: <c>upload:ID</c> or <c>folder:RELATIVE/PATH</c>.</param>
/// <param name="DisplayName">The name the user knows (original file name, or path in the allowed folder).</param>
/// <param name="Path">Where it is on disk.</param>
internal sealed record InputRef(string Reference, string DisplayName, string Path);

/// <summary>
/// Uploaded inputs, stored under the data folder with generated names (the user's file name is kept aside for display
/// only, so it can never steer where a file goes), and the files of the allowed input folder (resolved strictly inside it).
/// </summary>
internal sealed partial class UploadStore
{
    private static readonly string[] TableExtensions = [".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json"];
    private readonly string _root;
    private readonly long _maxBytes;
    private readonly string? _folder;

    public UploadStore(string root, long maxBytes, string? allowedFolder)
    {
        _root = System.IO.Path.GetFullPath(root);
        _maxBytes = maxBytes;
        // The folder itself may be a link (the operator's choice): its target is the folder whose files are offered.
        _folder = allowedFolder is null ? null
            : new DirectoryInfo(System.IO.Path.GetFullPath(allowedFolder)).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? System.IO.Path.GetFullPath(allowedFolder);
    }

    public long MaxBytes => _maxBytes;

    public bool HasFolder => _folder is not null && Directory.Exists(_folder);

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex IdRegex();

    /// <summary>Saves an upload; the stored name is random, the extension one of the table extensions.</summary>
    /// <exception cref="InputException">Too large, empty, or not a table file.</exception>
    public async Task<InputRef> SaveAsync(IFormFile file, CancellationToken cancellationToken)
    {
        var original = System.IO.Path.GetFileName(file.FileName ?? "upload.csv");
        if (string.IsNullOrWhiteSpace(original))
        {
            original = "upload.csv";
        }

        var ext = System.IO.Path.GetExtension(original).ToLowerInvariant();
        if (!TableExtensions.Contains(ext))
        {
            throw new InputException($"'{ext}' files are not tables", file: original, field: "file", hint: "upload a .csv, .tsv, .jsonl or .ndjson file");
        }

        if (file.Length > _maxBytes)
        {
            throw new InputException($"the file is {file.Length:N0} bytes, more than the {_maxBytes:N0} bytes uploads may have", file: original, field: "file",
                hint: "put it in the allowed input folder and pick it from there, or start 'batchpilot serve' with a larger upload limit");
        }

        if (file.Length == 0)
        {
            throw new InputException("the file is empty", file: original, field: "file");
        }

        Directory.CreateDirectory(_root);
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var path = System.IO.Path.Combine(_root, id + (ext is ".txt" ? ".csv" : ext));
        await using (var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
        {
            await file.CopyToAsync(target, cancellationToken);
        }

        await File.WriteAllTextAsync(System.IO.Path.Combine(_root, id + ".name"), original, cancellationToken);
        return new InputRef("upload:" + id, original, path);
    }

    /// <summary>Resolves a reference from a form; null when it names nothing that exists.</summary>
    public InputRef? Resolve(string? reference)
    {
        if (string.IsNullOrWhiteSpace(reference))
        {
            return null;
        }

        if (reference.StartsWith("upload:", StringComparison.Ordinal))
        {
            var id = reference[7..];
            if (!IdRegex().IsMatch(id) || !Directory.Exists(_root))
            {
                return null;
            }

            var path = TableExtensions.Select(e => System.IO.Path.Combine(_root, id + e)).FirstOrDefault(File.Exists);
            if (path is null)
            {
                return null;
            }

            var namePath = System.IO.Path.Combine(_root, id + ".name");
            var name = File.Exists(namePath) ? File.ReadAllText(namePath).Trim() : System.IO.Path.GetFileName(path);
            return new InputRef(reference, name, path);
        }

        if (reference.StartsWith("folder:", StringComparison.Ordinal) && _folder is not null)
        {
            var rel = reference[7..].Replace('\\', '/');
            if (rel.Length == 0 || System.IO.Path.IsPathRooted(rel) || rel.Contains('\0', StringComparison.Ordinal))
            {
                return null;
            }

            var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(_folder, rel));
            var inside = full.StartsWith(_folder.TrimEnd(System.IO.Path.DirectorySeparatorChar) + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal);
            if (!inside || !File.Exists(full) || !TableExtensions.Contains(System.IO.Path.GetExtension(full).ToLowerInvariant()) || ThroughLink(_folder, full))
            {
                return null;
            }

            return new InputRef("folder:" + System.IO.Path.GetRelativePath(_folder, full).Replace('\\', '/'), System.IO.Path.GetRelativePath(_folder, full), full);
        }

        return null;
    }

    /// <summary>
    /// True when a path under the folder goes through a symbolic link (the file itself or a folder on the way): links are
    /// never followed, since one could lead anywhere on the machine.
    /// </summary>
    private static bool ThroughLink(string folder, string full)
    {
        for (var p = full; p.Length > folder.Length; p = System.IO.Path.GetDirectoryName(p) ?? folder)
        {
            FileSystemInfo info = p == full ? new FileInfo(p) : new DirectoryInfo(p);
            if (info.LinkTarget is not null || info.Attributes.HasFlag(FileAttributes.ReparsePoint))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The table files of the allowed folder (two levels deep, at most 500, no symbolic links), as references.</summary>
    public IReadOnlyList<InputRef> FolderFiles()
    {
        if (_folder is null || !Directory.Exists(_folder))
        {
            return [];
        }

        var options = new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 2, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System | FileAttributes.ReparsePoint };
        return Directory.EnumerateFiles(_folder, "*", options)
            .Where(f => TableExtensions.Contains(System.IO.Path.GetExtension(f).ToLowerInvariant()))
            .Select(f => System.IO.Path.GetRelativePath(_folder, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).Take(500)
            .Select(rel => new InputRef("folder:" + rel, rel, System.IO.Path.Combine(_folder, rel)))
            .ToList();
    }
}
