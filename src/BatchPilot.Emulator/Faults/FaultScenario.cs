using System.Globalization;
using System.Text.Json;
using BatchPilot.Emulator.Infrastructure;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace BatchPilot.Emulator;

/// <summary>
/// A set of faults the emulator injects: per-item errors inside batches, HTTP faults on any endpoint,
/// and whole-batch faults. Deterministic given <see cref="Seed"/>. Immutable once built, except for
/// its call counters (one per HTTP and batch rule), which are thread-safe.
/// </summary>
/// <remarks>
/// File format (YAML or JSON):
/// <code>
/// seed: 42
/// items:
///   - error: server_error      # or context_length_exceeded, rate_limit_exceeded, request_timeout, api_error, overloaded_error…
///     rate: 0.2
///     firstAttemptOnly: true
/// http:
///   - endpoint: POST /v1/batches
///     status: 429
///     nth: 2
/// batches:
///   - kind: validation_failure
///     code: token_limit_exceeded
/// </code>
/// Flags (<see cref="ParseFlags"/>): <c>seed=42</c>, <c>items:error=server_error:rate=0.2:firstAttemptOnly</c>,
/// <c>http:POST /v1/batches:status=429:nth=2</c>, <c>batch:expire:fraction=0.5</c>.
/// </remarks>
public sealed class FaultScenario
{
    private int[]? _httpCalls;
    private int[]? _httpInjected;
    private int[]? _batchCalls;

    /// <summary>No faults.</summary>
    public static FaultScenario None { get; } = new();

    /// <summary>Seed of every random choice.</summary>
    public int Seed { get; init; }

    /// <summary>Per-item error rules.</summary>
    public IReadOnlyList<ItemFaultRule> Items { get; init; } = [];

    /// <summary>HTTP fault rules; the first rule that fires wins.</summary>
    public IReadOnlyList<HttpFaultRule> Http { get; init; } = [];

    /// <summary>Whole-batch fault rules; every rule that fires applies.</summary>
    public IReadOnlyList<BatchFaultRule> Batches { get; init; } = [];

    /// <summary>True when there is nothing to inject.</summary>
    public bool IsEmpty => Items.Count == 0 && Http.Count == 0 && Batches.Count == 0;

    /// <summary>This scenario followed by the rules of <paramref name="other"/>; the other's seed wins when not 0.</summary>
    public FaultScenario Merge(FaultScenario other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new FaultScenario
        {
            Seed = other.Seed != 0 ? other.Seed : Seed,
            Items = [.. Items, .. other.Items],
            Http = [.. Http, .. other.Http],
            Batches = [.. Batches, .. other.Batches],
        };
    }

    /// <summary>Reads a YAML or JSON scenario file.</summary>
    /// <exception cref="FaultScenarioException">The file is malformed; the message names the file, line and column.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static FaultScenario Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var text = File.ReadAllText(path);
        return Parse(text, path);
    }

    /// <summary>Parses YAML or JSON scenario text; <paramref name="sourceName"/> names it in error messages.</summary>
    /// <exception cref="FaultScenarioException">The text is malformed.</exception>
    public static FaultScenario Parse(string text, string sourceName = "<inline>")
    {
        ArgumentNullException.ThrowIfNull(text);
        if (sourceName.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || text.TrimStart().StartsWith('{'))
        {
            try
            {
                using var _ = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            }
            catch (JsonException e)
            {
                throw new FaultScenarioException(sourceName, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, "not valid JSON: " + FirstSentence(e.Message));
            }
            // Outside strings, a tab in valid JSON is only whitespace; YAML refuses tabs, so swap them (positions stay).
            text = text.Replace('\t', ' ');
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new FaultScenarioException(sourceName, (int)e.Start.Line, (int)e.Start.Column, FirstSentence(e.Message));
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return None;
        }
        return new Reader(sourceName).ReadScenario(stream.Documents[0].RootNode);
    }

    /// <summary>
    /// Parses <c>--fault</c> flags. Each flag is <c>kind:segment:segment…</c> where a segment is <c>key=value</c> or a bare word:
    /// <list type="bullet">
    /// <item><c>seed=42</c></item>
    /// <item><c>items:error=server_error:rate=0.2[:firstAttemptOnly][:provider=openai][:ids=a,b]</c></item>
    /// <item><c>http:POST /v1/batches:status=429:nth=2</c> (also <c>first=N</c>, <c>rate=R</c>, <c>times=N</c>, <c>retryAfterMs=N</c>, <c>delayMs=N</c>, <c>status=reset</c>, <c>midBody=true</c>, <c>provider=…</c>)</item>
    /// <item><c>batch:validation_failure[:code=token_limit_exceeded][:nth=1]</c>, <c>batch:expire:fraction=0.5</c>, …</item>
    /// </list>
    /// </summary>
    /// <exception cref="FormatException">A flag is malformed; the message quotes it.</exception>
    public static FaultScenario ParseFlags(IEnumerable<string> flags)
    {
        ArgumentNullException.ThrowIfNull(flags);
        var seed = 0;
        var items = new List<ItemFaultRule>();
        var http = new List<HttpFaultRule>();
        var batches = new List<BatchFaultRule>();
        foreach (var flag in flags)
        {
            if (string.IsNullOrWhiteSpace(flag))
            {
                continue;
            }
            var f = flag.Trim();
            if (f.StartsWith("seed=", StringComparison.OrdinalIgnoreCase))
            {
                seed = int.TryParse(f.AsSpan(5), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s)
                    ? s
                    : throw FlagError(f, "seed must be an integer");
                continue;
            }
            var parts = f.Split(':');
            var kind = Normalize(parts[0]);
            var map = new Dictionary<string, (string Key, string Value)>(StringComparer.Ordinal);
            string? bare = null;
            foreach (var segment in parts.Skip(1))
            {
                var eq = segment.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    if (kind == "items" && Normalize(segment) == "firstattemptonly")
                    {
                        map["firstattemptonly"] = (segment, "true");
                    }
                    else if (bare is null)
                    {
                        bare = segment.Trim();
                    }
                    else
                    {
                        throw FlagError(f, $"unexpected segment '{segment}' (expected key=value)");
                    }
                    continue;
                }
                map[Normalize(segment[..eq])] = (segment[..eq], segment[(eq + 1)..].Trim());
            }
            var node = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in map)
            {
                node[k] = v.Value;
            }
            try
            {
                switch (kind)
                {
                    case "items" or "item":
                        if (bare is not null)
                        {
                            node.TryAdd("error", bare);
                        }
                        items.Add(Rules.Item(node));
                        break;
                    case "http":
                        if (bare is not null)
                        {
                            node.TryAdd("endpoint", bare);
                        }
                        http.Add(Rules.Http(node));
                        break;
                    case "batch" or "batches":
                        if (bare is not null)
                        {
                            node.TryAdd("kind", bare);
                        }
                        batches.Add(Rules.Batch(node));
                        break;
                    default:
                        throw new FormatException($"unknown fault kind '{parts[0]}' (expected seed=, items:, http: or batch:)");
                }
            }
            catch (FormatException e)
            {
                throw FlagError(f, e.Message);
            }
        }
        return new FaultScenario { Seed = seed, Items = items, Http = http, Batches = batches };
    }

    internal static string Normalize(string key) => key.Trim().Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();

    private static FormatException FlagError(string flag, string message) => new($"--fault '{flag}': {message}.");

    private static string FirstSentence(string message)
    {
        var i = message.IndexOf(". ", StringComparison.Ordinal);
        return (i > 0 ? message[..i] : message).TrimEnd('.');
    }

    /// <summary>Decides whether the HTTP call is faulted; counts the call for every matching rule.</summary>
    internal HttpFaultRule? NextHttpFault(string method, string path, string provider)
    {
        if (Http.Count == 0)
        {
            return null;
        }
        var calls = LazyInitializer.EnsureInitialized(ref _httpCalls, () => new int[Http.Count]);
        var injected = LazyInitializer.EnsureInitialized(ref _httpInjected, () => new int[Http.Count]);
        HttpFaultRule? chosen = null;
        for (var i = 0; i < Http.Count; i++)
        {
            var rule = Http[i];
            if (!PathPattern.Matches(rule.Method, rule.Path, method, path) || (rule.Provider is not null && rule.Provider != provider))
            {
                continue;
            }
            var n = Interlocked.Increment(ref calls[i]);
            if (chosen is not null)
            {
                continue;
            }
            var fire = rule.Nth is { } nth ? n == nth
                : rule.First is { } first ? n <= first
                : rule.Rate >= 1 || StableHash.ToUnit(StableHash.Combine(StableHash.Combine((ulong)Seed, (ulong)i), (ulong)n)) < rule.Rate;
            if (!fire)
            {
                continue;
            }
            if (rule.Times is { } times && Interlocked.Increment(ref injected[i]) > times)
            {
                continue;
            }
            chosen = rule;
        }
        return chosen;
    }

    /// <summary>The batch rules that fire for a batch being created now.</summary>
    internal List<BatchFaultRule> NextBatchFaults(string provider)
    {
        var result = new List<BatchFaultRule>();
        if (Batches.Count == 0)
        {
            return result;
        }
        var calls = LazyInitializer.EnsureInitialized(ref _batchCalls, () => new int[Batches.Count]);
        for (var i = 0; i < Batches.Count; i++)
        {
            var rule = Batches[i];
            if (rule.Provider is not null && rule.Provider != provider)
            {
                continue;
            }
            var n = Interlocked.Increment(ref calls[i]);
            var fire = rule.Nth is { } nth ? n == nth
                : rule.Rate >= 1 || StableHash.ToUnit(StableHash.Combine(StableHash.Combine((ulong)Seed ^ 0xBA7C4UL, (ulong)i), (ulong)n)) < rule.Rate;
            if (fire)
            {
                result.Add(rule);
            }
        }
        return result;
    }

    /// <summary>Turns the YAML tree into a scenario, with file positions in every error.</summary>
    private sealed class Reader(string source)
    {
        public FaultScenario ReadScenario(YamlNode root)
        {
            var map = AsMap(root, "the scenario");
            var seed = 0;
            List<ItemFaultRule> items = [];
            List<HttpFaultRule> http = [];
            List<BatchFaultRule> batches = [];
            foreach (var (keyNode, value) in map.Children)
            {
                var key = ((YamlScalarNode)keyNode).Value ?? "";
                switch (Normalize(key))
                {
                    case "seed":
                        seed = (int)ParseNumber(value, key, integer: true);
                        break;
                    case "items":
                        items = ReadList(value, key, Rules.Item);
                        break;
                    case "http":
                        http = ReadList(value, key, Rules.Http);
                        break;
                    case "batches" or "batch":
                        batches = ReadList(value, key, Rules.Batch);
                        break;
                    default:
                        throw Error(keyNode, $"unknown key '{key}' (expected seed, items, http or batches)");
                }
            }
            return new FaultScenario { Seed = seed, Items = items, Http = http, Batches = batches };
        }

        private List<T> ReadList<T>(YamlNode node, string key, Func<Dictionary<string, string>, T> build)
        {
            if (node is not YamlSequenceNode seq)
            {
                throw Error(node, $"'{key}' must be a list");
            }
            var result = new List<T>();
            foreach (var entry in seq.Children)
            {
                var map = AsMap(entry, $"an entry of '{key}'");
                var values = new Dictionary<string, string>(StringComparer.Ordinal);
                var positions = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
                foreach (var (k, v) in map.Children)
                {
                    var name = Normalize(((YamlScalarNode)k).Value ?? "");
                    values[name] = v switch
                    {
                        YamlScalarNode s => s.Value ?? "",
                        YamlSequenceNode list => string.Join(',', list.Children.Select(c => (c as YamlScalarNode)?.Value ?? throw Error(c, $"'{name}' must hold plain values"))),
                        _ => throw Error(v, $"'{((YamlScalarNode)k).Value}' must be a value, not a mapping"),
                    };
                    positions[name] = k;
                }
                try
                {
                    result.Add(build(values));
                }
                catch (RuleException e)
                {
                    throw Error(e.Key is not null && positions.TryGetValue(e.Key, out var at) ? at : entry, e.Message);
                }
                catch (FormatException e)
                {
                    throw Error(entry, e.Message);
                }
            }
            return result;
        }

        private YamlMappingNode AsMap(YamlNode node, string what) =>
            node as YamlMappingNode ?? throw Error(node, $"{what} must be a mapping");

        private double ParseNumber(YamlNode node, string key, bool integer)
        {
            var text = (node as YamlScalarNode)?.Value;
            if (text is not null && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && (!integer || d == Math.Floor(d)))
            {
                return d;
            }
            throw Error(node, $"'{key}' must be {(integer ? "an integer" : "a number")}");
        }

        private FaultScenarioException Error(YamlNode node, string message) =>
            new(source, (int)node.Start.Line, (int)node.Start.Column, message);
    }
}

/// <summary>A fault scenario file could not be read. The message names the file, line and column.</summary>
public sealed class FaultScenarioException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FaultScenarioException(string file, int line, int column, string problem)
        : base($"{file}({line},{column}): {problem}.")
    {
        File = file;
        Line = line;
        Column = column;
        Problem = problem;
    }

    /// <summary>The file (or source name).</summary>
    public string File { get; }

    /// <summary>1-based line.</summary>
    public int Line { get; }

    /// <summary>1-based column.</summary>
    public int Column { get; }

    /// <summary>What is wrong, without the position.</summary>
    public string Problem { get; }
}
