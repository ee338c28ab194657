namespace BatchPilot.Testing;

/// <summary>
/// The repository's root folder, found from the test's output folder (never from a compile-time source path:
/// a CI build maps source paths to <c>/_/</c>).
/// </summary>
public static class RepositoryRoot
{
    private static readonly Lazy<string> Root = new(Find);

    /// <summary>The root folder (the one holding <c>BatchPilot.slnx</c>).</summary>
    public static string Path => Root.Value;

    /// <summary>A path under the root.</summary>
    public static string PathOf(params string[] parts) => System.IO.Path.Combine([Root.Value, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "BatchPilot.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("The repository root (with BatchPilot.slnx) was not found above " + AppContext.BaseDirectory);
    }
}
