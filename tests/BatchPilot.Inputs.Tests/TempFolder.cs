using System.Text;
using BatchPilot.Errors;

namespace BatchPilot.Inputs.Tests;

/// <summary>A folder of real files for one test, deleted afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    public TempFolder() => Path = Directory.CreateTempSubdirectory("batchpilot-inputs-tests-").FullName;

    public string Path { get; }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte order mark and returns the full path.</summary>
    public string Write(string name, string text) => Write(name, Utf8NoBom.GetBytes(text));

    public string Write(string name, byte[] bytes)
    {
        var path = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is harmless.
        }
    }
}

/// <summary>Reading helpers shared by the tests.</summary>
internal static class Read
{
    public static (IReadOnlyList<string> Columns, List<TableRow> Rows) All(string path, TableReadOptions? options = null)
    {
        using var reader = TableReader.Open(path, options ?? TableReadOptions.Default);
        return (reader.Columns.ToList(), reader.ReadRows().ToList());
    }

    /// <summary>Opens and reads the whole file, and returns the error it must raise.</summary>
    public static InputException Error(string path, TableReadOptions? options = null) =>
        Assert.Throws<InputException>(() =>
        {
            using var reader = TableReader.Open(path, options ?? TableReadOptions.Default);
            foreach (var row in reader.ReadRows())
            {
                _ = row;
            }
        });

    /// <summary>The error <see cref="TableReader.Open(string, TableReadOptions)"/> itself must raise.</summary>
    public static InputException OpenError(string path, TableReadOptions? options = null) =>
        Assert.Throws<InputException>(() => TableReader.Open(path, options ?? TableReadOptions.Default).Dispose());
}

/// <summary>Compares row values; xUnit's span overloads do not take nullable strings.</summary>
internal static class Same
{
    public static void Values(IEnumerable<string?> expected, IEnumerable<string?> actual) => Assert.Equal(expected, actual);
}
