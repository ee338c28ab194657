namespace BatchPilot.Inputs.Tests;

/// <summary>Finds files of the repository (the corpus, the examples) from the test's output folder.</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>Reads a tab-separated table (no header line), skipping blank lines.</summary>
    public static IEnumerable<string[]> ReadTsv(string path) =>
        File.ReadAllLines(path).Where(line => line.Length > 0).Select(line => line.Split('\t'));

    /// <summary>Splits a command line fragment into arguments, honouring double quotes.</summary>
    public static List<string> SplitArguments(string text)
    {
        var result = new List<string>();
        var current = new System.Text.StringBuilder();
        var inQuotes = false;
        var any = false;
        foreach (var c in text)
        {
            if (c == '"')
            {
                inQuotes = !inQuotes;
                any = true;
            }
            else if (char.IsWhiteSpace(c) && !inQuotes)
            {
                if (any)
                {
                    result.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }

        if (any)
        {
            result.Add(current.ToString());
        }

        return result;
    }

    /// <summary>The reader options among the flags that end a corpus note (<c>why; flags: --delimiter ; --encoding latin1</c>),
    /// and whether the flags also hold options the reader does not know, which only the CLI checks.</summary>
    public static (TableReadOptions Options, bool HasCliOnlyFlags) OptionsFromNotes(string notes)
    {
        var at = notes.IndexOf("flags:", StringComparison.Ordinal);
        if (at < 0)
        {
            return (TableReadOptions.Default, false);
        }

        var args = SplitArguments(notes[(at + "flags:".Length)..]);
        string? delimiter = null, encoding = null, format = null;
        var cliOnly = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--delimiter":
                    delimiter = args[++i];
                    break;
                case "--encoding":
                    encoding = args[++i];
                    break;
                case "--format":
                    format = args[++i];
                    break;
                default:
                    cliOnly |= args[i].StartsWith("--", StringComparison.Ordinal);
                    break;
            }
        }

        return (new TableReadOptions { Delimiter = delimiter, Encoding = encoding, Format = format }, cliOnly);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "tests", "corpus")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with tests/corpus) was not found above " + AppContext.BaseDirectory);
    }
}
