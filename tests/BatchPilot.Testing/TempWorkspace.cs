namespace BatchPilot.Testing;

/// <summary>A temporary folder for one test, deleted afterwards.</summary>
public sealed class TempWorkspace : IDisposable
{
    /// <summary>Creates the folder.</summary>
    public TempWorkspace()
    {
        Root = Path.Combine(Path.GetTempPath(), "bp-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    /// <summary>The folder.</summary>
    public string Root { get; }

    /// <summary>A path inside the folder.</summary>
    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>Writes a UTF-8 text file and returns its path.</summary>
    public string Write(string name, string text)
    {
        var path = PathOf(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Writes a CSV of <paramref name="rows"/> product reviews (columns id, product, review_text).</summary>
    public string WriteReviews(string name, int rows)
    {
        var path = PathOf(name);
        using var w = new StreamWriter(path);
        w.Write("id,product,review_text\n");
        for (var i = 1; i <= rows; i++)
        {
            w.Write($"r{i},Product {i % 7},\"Review number {i}, with a comma and \"\"quotes\"\"\"\n");
        }

        return path;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
