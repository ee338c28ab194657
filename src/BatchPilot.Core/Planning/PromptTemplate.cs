using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using BatchPilot.Errors;
using Fluid;
using Fluid.Values;

namespace BatchPilot.Planning;

/// <summary>
/// A prompt template filled from a row. <c>{{column}}</c> placeholders name columns; column names may contain spaces and
/// punctuation (<c>{{Image Path}}</c>) and surrounding spaces inside the braces are ignored. Templates may also use
/// Liquid (Fluid): <c>{% if %}</c>, <c>{% for %}</c>, filters (<c>{{ name | truncate: 20 }}</c>, <c>{{ text | json }}</c>)
/// and the <c>row</c> object holding every column (<c>{% if row["Image Path"] != blank %}</c>).
/// </summary>
/// <remarks>
/// A template made only of text and column placeholders renders through a fast literal path; any other Liquid syntax
/// is parsed once by Fluid and rendered per row. Thread-safe: each render uses its own context.
/// </remarks>
public sealed partial class PromptTemplate
{
    private static readonly FluidParser Parser = new();
    private static readonly TemplateOptions Options = CreateOptions();

    private readonly string[] _literals;
    private readonly int[] _columnIndexes;
    private readonly IFluidTemplate? _liquid;
    private readonly IReadOnlyList<string> _columns;
    private readonly string?[] _identifierNames;

    private PromptTemplate(string source, string[] literals, int[] columnIndexes, string[] placeholders, IFluidTemplate? liquid, IReadOnlyList<string> columns)
    {
        Source = source;
        _literals = literals;
        _columnIndexes = columnIndexes;
        Placeholders = placeholders;
        _liquid = liquid;
        _columns = columns;
        _identifierNames = [.. columns.Select(c => IdentifierRegex().IsMatch(c) && !IsReserved(c) ? c : null)];
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Column placeholder names in order of appearance.</summary>
    public IReadOnlyList<string> Placeholders { get; }

    /// <summary>True when the template uses Liquid syntax beyond <c>{{column}}</c> placeholders.</summary>
    public bool UsesLiquid => _liquid is not null;

    [GeneratedRegex(@"\{\{\s*(.*?)\s*\}\}", RegexOptions.Singleline)]
    private static partial Regex PlaceholderRegex();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex IdentifierRegex();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_-]*")]
    private static partial Regex HeadRegex();

    [GeneratedRegex(@"\{%-?\s*(?:assign|capture|for|cycle|increment|decrement)\s+([A-Za-z_][A-Za-z0-9_-]*)")]
    private static partial Regex DeclarationRegex();

    [GeneratedRegex(@"\((\d+):(\d+)\)")]
    private static partial Regex PositionRegex();

    private static TemplateOptions CreateOptions()
    {
        var options = new TemplateOptions();
        options.Filters.AddFilter("json", static (input, _, _) =>
        {
            return new ValueTask<FluidValue>(new StringValue(JsonEscape(input.ToStringValue()), false));
        });
        return options;
    }

    /// <summary>Escapes text for a JSON string literal, without the quotes; non-ASCII text is kept as is.</summary>
    internal static string JsonEscape(string text)
    {
        StringBuilder? sb = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            string? escaped = c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\b' => "\\b",
                '\f' => "\\f",
                < ' ' => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                _ => null,
            };
            if (escaped is null)
            {
                sb?.Append(c);
                continue;
            }

            sb ??= new StringBuilder(text, 0, i, text.Length + 16);
            sb.Append(escaped);
        }

        return sb?.ToString() ?? text;
    }

    private static bool IsReserved(string name) =>
        name is "row" or "true" or "false" or "nil" or "null" or "blank" or "empty" or "forloop" or "examples";

    /// <summary>Compiles a template against the input's columns.</summary>
    /// <param name="source">The template text.</param>
    /// <param name="columns">The input's column names.</param>
    /// <param name="what">The option the template came from (<c>--prompt</c>, <c>--prompt-file</c>, <c>--system</c>), for errors.</param>
    /// <param name="inputName">The input file as the user named it, for errors.</param>
    /// <exception cref="InputException">A placeholder names no column, or the Liquid syntax is invalid.</exception>
    public static PromptTemplate Compile(string source, IReadOnlyList<string> columns, string what = "--prompt", string? inputName = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(columns);
        var literals = new List<string>();
        var indexes = new List<int>();
        var names = new List<string>();
        var plain = !source.Contains("{%", StringComparison.Ordinal);
        HashSet<string>? declared = null;
        var rewritten = new StringBuilder(source.Length + 32);
        var map = new List<(int Rewritten, int Original)>();
        var last = 0;
        foreach (Match m in PlaceholderRegex().Matches(source))
        {
            var inner = m.Groups[1].Value;
            var index = IndexOf(columns, inner);
            if (index >= 0)
            {
                literals.Add(source[last..m.Index]);
                indexes.Add(index);
                names.Add(inner);
                Rewrite(rewritten, map, source, last, m.Index, "{{ " + RowAccess(columns[index]) + " }}");
                last = m.Index + m.Length;
                continue;
            }

            // Liquid: whitespace control, filters, member access, literals.
            plain = false;
            var trimLeft = inner.StartsWith('-');
            var trimRight = inner.EndsWith('-') && inner.Length > 1;
            var body = inner[(trimLeft ? 1 : 0)..(inner.Length - (trimRight ? 1 : 0))].Trim();
            var pipe = body.IndexOf('|', StringComparison.Ordinal);
            var head = (pipe < 0 ? body : body[..pipe]).Trim();
            var tail = pipe < 0 ? string.Empty : " " + body[pipe..];
            var headIndex = IndexOf(columns, head);
            string expression;
            if (headIndex >= 0)
            {
                names.Add(head);
                expression = RowAccess(columns[headIndex]) + tail;
            }
            else
            {
                var id = HeadRegex().Match(head);
                if (id.Success && !IsReserved(id.Value))
                {
                    declared ??= [.. DeclarationRegex().Matches(source).Select(d => d.Groups[1].Value)];
                    if (!declared.Contains(id.Value) && IndexOf(columns, id.Value) < 0)
                    {
                        throw UnknownPlaceholder(id.Value == body ? id.Value : body, columns, what, inputName);
                    }
                }

                expression = body;
            }

            Rewrite(rewritten, map, source, last, m.Index, "{{" + (trimLeft ? "-" : string.Empty) + " " + expression + " " + (trimRight ? "-" : string.Empty) + "}}");
            last = m.Index + m.Length;
        }

        literals.Add(source[last..]);
        if (plain)
        {
            return new PromptTemplate(source, [.. literals], [.. indexes], [.. names], null, columns);
        }

        Rewrite(rewritten, map, source, last, source.Length, string.Empty);
        var text = rewritten.ToString();
        if (!Parser.TryParse(text, out var liquid, out var error))
        {
            throw new InputException(
                "the template is not valid Liquid: " + MapPosition(error, text, source, map),
                field: what,
                hint: "check the {% %} tags and {{ }} expressions; write {% raw %}{{ text }}{% endraw %} to send braces as they are");
        }

        return new PromptTemplate(source, [.. literals], [.. indexes], [.. names], liquid, columns);
    }

    private static InputException UnknownPlaceholder(string name, IReadOnlyList<string> columns, string what, string? inputName)
    {
        var available = string.Join(", ", columns.Select(c => "{{" + c + "}}"));
        return new InputException(
            $"the template uses the placeholder {{{{{name}}}}} but the input{(inputName is null ? string.Empty : " " + inputName)} has no such column",
            field: what,
            hint: $"use one of: {available}");
    }

    private static string RowAccess(string column) =>
        column.Contains('"', StringComparison.Ordinal) ? "row['" + column + "']" : "row[\"" + column + "\"]";

    private static void Rewrite(StringBuilder sb, List<(int Rewritten, int Original)> map, string source, int from, int to, string replacement)
    {
        // Text between placeholders is copied as is; remember where it starts in both texts to map error positions back.
        map.Add((sb.Length, from));
        sb.Append(source, from, to - from);
        map.Add((sb.Length, to));
        sb.Append(replacement);
    }

    private static string MapPosition(string error, string rewritten, string source, List<(int Rewritten, int Original)> map)
    {
        var m = PositionRegex().Match(error);
        if (!m.Success)
        {
            return error;
        }

        var line = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var column = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        var offset = 0;
        for (var l = 1; l < line && offset < rewritten.Length; l++)
        {
            var nl = rewritten.IndexOf('\n', offset);
            offset = nl < 0 ? rewritten.Length : nl + 1;
        }

        offset = Math.Min(rewritten.Length, offset + column - 1);
        var original = 0;
        for (var i = map.Count - 1; i >= 0; i--)
        {
            if (map[i].Rewritten <= offset)
            {
                // Inside copied text the offsets move together; inside a rewritten placeholder, point at its start.
                original = i % 2 == 0 ? map[i].Original + (offset - map[i].Rewritten) : map[i].Original;
                original = Math.Min(original, source.Length);
                break;
            }
        }

        var origLine = 1;
        var origColumn = 1;
        for (var i = 0; i < original; i++)
        {
            if (source[i] == '\n')
            {
                origLine++;
                origColumn = 1;
            }
            else
            {
                origColumn++;
            }
        }

        // Fluid appends the whole (rewritten) source after the position; keep the first sentence only.
        var message = PositionRegex().Replace(error.Split('\n')[0], string.Empty).TrimEnd();
        message = message.EndsWith(" at", StringComparison.Ordinal) ? message[..^3] : message;
        return $"{message.Trim().TrimEnd('.')} at line {origLine.ToString(CultureInfo.InvariantCulture)}, column {origColumn.ToString(CultureInfo.InvariantCulture)}";
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

    /// <summary>Fills the template from a row (missing values render as empty text).</summary>
    public string Render(IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (_liquid is not null)
        {
            return RenderLiquid(values);
        }

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

    private string RenderLiquid(IReadOnlyList<string?> values)
    {
        var context = new TemplateContext(Options);
        var row = new Dictionary<string, FluidValue>(_columns.Count, StringComparer.Ordinal);
        for (var i = 0; i < _columns.Count; i++)
        {
            var value = i < values.Count && values[i] is { } v ? (FluidValue)new StringValue(v, false) : NilValue.Instance;
            row[_columns[i]] = value;
            if (_identifierNames[i] is { } name)
            {
                context.SetValue(name, value);
            }
        }

        context.SetValue("row", new DictionaryValue(new FluidValueDictionaryFluidIndexable(row)));
        return _liquid!.Render(context, NullEncoder.Default);
    }

    /// <summary>
    /// An upper bound of the rendered length, to skip exact size checks for small rows. Liquid templates (loops,
    /// filters) have no cheap bound, so theirs is large enough to make callers measure.
    /// </summary>
    public long RenderedLengthBound(IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (_liquid is not null)
        {
            return int.MaxValue;
        }

        long n = Source.Length;
        foreach (var index in _columnIndexes)
        {
            n += index < values.Count ? values[index]?.Length ?? 0 : 0;
        }

        return n;
    }
}
