using System.Text;
using System.Text.RegularExpressions;
using BatchPilot.Errors;

namespace BatchPilot.Planning;

/// <summary>
/// A prompt template with <c>{{column}}</c> placeholders filled from a row. Column names may contain spaces and
/// punctuation (<c>{{Image Path}}</c>); surrounding spaces inside the braces are ignored.
/// </summary>
public sealed partial class PromptTemplate
{
    private readonly string[] _literals;
    private readonly int[] _columnIndexes;

    private PromptTemplate(string source, string[] literals, int[] columnIndexes, string[] placeholders)
    {
        Source = source;
        _literals = literals;
        _columnIndexes = columnIndexes;
        Placeholders = placeholders;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Placeholder names in order of appearance.</summary>
    public IReadOnlyList<string> Placeholders { get; }

    [GeneratedRegex(@"\{\{\s*(.*?)\s*\}\}", RegexOptions.Singleline)]
    private static partial Regex PlaceholderRegex();

    /// <summary>Compiles a template against the input's columns.</summary>
    /// <exception cref="InputException">A placeholder names no column.</exception>
    public static PromptTemplate Compile(string source, IReadOnlyList<string> columns, string what = "--prompt", string? inputName = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(columns);
        var literals = new List<string>();
        var indexes = new List<int>();
        var names = new List<string>();
        var last = 0;
        foreach (Match m in PlaceholderRegex().Matches(source))
        {
            var name = m.Groups[1].Value;
            var index = IndexOf(columns, name);
            if (index < 0)
            {
                var available = string.Join(", ", columns.Select(c => "{{" + c + "}}"));
                throw new InputException(
                    $"the template uses the placeholder {{{{{name}}}}} but the input{(inputName is null ? string.Empty : " " + inputName)} has no such column",
                    field: what,
                    hint: $"use one of: {available}");
            }

            literals.Add(source[last..m.Index]);
            indexes.Add(index);
            names.Add(name);
            last = m.Index + m.Length;
        }

        literals.Add(source[last..]);
        return new PromptTemplate(source, [.. literals], [.. indexes], [.. names]);
    }

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        for (var i = 0; i < columns.Count; i++)
        {
            if (string.Equals(columns[i].Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Fills the placeholders from a row (missing values render as empty text).</summary>
    public string Render(IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (_columnIndexes.Length == 0)
        {
            return Source;
        }

        var sb = new StringBuilder(Source.Length + 64);
        for (var i = 0; i < _columnIndexes.Length; i++)
        {
            sb.Append(_literals[i]);
            var index = _columnIndexes[i];
            sb.Append(index < values.Count ? values[index] : null);
        }

        sb.Append(_literals[^1]);
        return sb.ToString();
    }

    /// <summary>An upper bound of the rendered length, to skip exact size checks for small rows.</summary>
    public long RenderedLengthBound(IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        long n = Source.Length;
        foreach (var index in _columnIndexes)
        {
            n += index < values.Count ? values[index]?.Length ?? 0 : 0;
        }

        return n;
    }
}
