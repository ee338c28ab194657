using BatchPilot.Errors;
using BatchPilot.Providers;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace BatchPilot.Cli.Config;

/// <summary>Where a setting's value came from.</summary>
public enum SettingSource
{
    /// <summary>Not set.</summary>
    None,

    /// <summary>A command-line flag.</summary>
    Flag,

    /// <summary>An environment variable.</summary>
    Environment,

    /// <summary>The <c>.env</c> file in the working directory.</summary>
    DotEnv,

    /// <summary><c>config/user.yaml</c>.</summary>
    UserYaml,

    /// <summary>The built-in default.</summary>
    Default,
}

/// <summary>A resolved setting.</summary>
/// <param name="Value">The value, trimmed.</param>
/// <param name="Source">Where it came from.</param>
/// <param name="Origin">The variable, key or file it was read from.</param>
public sealed record Setting(string? Value, SettingSource Source, string Origin);

/// <summary>One entry of a two-level YAML mapping.</summary>
/// <param name="Name">The entry's key.</param>
/// <param name="Line">Its 1-based line in the file.</param>
/// <param name="Values">Its scalar fields.</param>
public sealed record YamlEntry(string Name, int Line, IReadOnlyDictionary<string, string> Values);

/// <summary>
/// Configuration with the precedence flag &gt; environment &gt; .env &gt; config/user.yaml &gt; defaults.
/// Keys are trimmed; they are never printed whole.
/// </summary>
public sealed class Settings
{
    private readonly IReadOnlyDictionary<string, string> _dotEnv;
    private readonly YamlMappingNode? _yaml;
    private readonly Func<string, string?> _env;

    private Settings(string workingDirectory, IReadOnlyDictionary<string, string> dotEnv, YamlMappingNode? yaml, string yamlPath, Func<string, string?> env)
    {
        WorkingDirectory = workingDirectory;
        _dotEnv = dotEnv;
        _yaml = yaml;
        UserYamlPath = yamlPath;
        _env = env;
    }

    /// <summary>The working directory settings were read from.</summary>
    public string WorkingDirectory { get; }

    /// <summary>The config file path (may not exist).</summary>
    public string UserYamlPath { get; }

    /// <summary>True when config/user.yaml exists and was read.</summary>
    public bool HasUserYaml => _yaml is not null;

    /// <summary>True when a .env file was read.</summary>
    public bool HasDotEnv => _dotEnv.Count > 0;

    /// <summary>Loads .env and config/user.yaml from the working directory.</summary>
    /// <exception cref="InputException">A malformed config file (with line and column).</exception>
    public static Settings Load(string? workingDirectory = null, Func<string, string?>? environment = null)
    {
        var wd = workingDirectory ?? Directory.GetCurrentDirectory();
        var env = environment ?? Environment.GetEnvironmentVariable;
        var dotEnv = ReadDotEnv(Path.Combine(wd, ".env"));
        var yamlPath = env("BATCHPILOT_CONFIG") is { Length: > 0 } p ? Path.GetFullPath(p, wd) : Path.Combine(wd, "config", "user.yaml");
        var yaml = ReadYaml(yamlPath);
        return new Settings(wd, dotEnv, yaml, yamlPath, env);
    }

    private static Dictionary<string, string> ReadDotEnv(string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return result;
        }

        var n = 0;
        foreach (var raw in File.ReadLines(path))
        {
            n++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line[7..].TrimStart();
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new InputException("this line is not KEY=VALUE", file: path, row: n, hint: "fix or remove the line");
            }

            var key = line[..eq].Trim();
            var value = line[(eq + 1)..].Trim();
            if (value.Length >= 2 && ((value[0] == '"' && value[^1] == '"') || (value[0] == '\'' && value[^1] == '\'')))
            {
                value = value[1..^1];
            }
            else
            {
                var hash = value.IndexOf(" #", StringComparison.Ordinal);
                if (hash >= 0)
                {
                    value = value[..hash].TrimEnd();
                }
            }

            result[key] = value.Trim();
        }

        return result;
    }

    private static YamlMappingNode? ReadYaml(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var stream = new YamlStream();
            using var reader = new StreamReader(path);
            stream.Load(reader);
            if (stream.Documents.Count == 0)
            {
                return null;
            }

            return stream.Documents[0].RootNode as YamlMappingNode
                ?? throw new InputException("the top level must be a mapping (key: value lines)", file: path, row: stream.Documents[0].RootNode.Start.Line, hint: "see config/user.example.yaml");
        }
        catch (YamlException ex)
        {
            var message = ex.InnerException?.Message ?? ex.Message;
            var idx = message.IndexOf("): ", StringComparison.Ordinal);
            if (message.StartsWith('(') && idx > 0)
            {
                message = message[(idx + 3)..];
            }

            throw new InputException($"invalid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {message.TrimEnd('.')}", ex, file: path, hint: "fix the file (indent with spaces, quote values containing ':' or '#')");
        }
        catch (InvalidOperationException ex)
        {
            // YamlDotNet reports some unterminated constructs (an unclosed '[') this way, without a position.
            throw new InputException(LocateYamlProblem(path) ?? $"invalid YAML ({ex.Message.TrimEnd('.')})", ex, file: path,
                hint: "fix the file (indent with spaces, quote values containing ':' or '#', close every [ and {)");
        }
    }

    /// <summary>
    /// Where a YAML file stops parsing, for failures the loader reports without a position: the end of the last
    /// event that parsed. Null when the file parses.
    /// </summary>
    public static string? LocateYamlProblem(string path)
    {
        var last = YamlDotNet.Core.Mark.Empty;
        try
        {
            using var reader = new StreamReader(path);
            var parser = new YamlDotNet.Core.Parser(reader);
            while (parser.MoveNext())
            {
                last = parser.Current!.End;
            }

            return null;
        }
        catch (Exception ex) when (ex is YamlException or InvalidOperationException)
        {
            var line = Math.Max(last.Line, 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var column = Math.Max(last.Column, 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return $"invalid YAML after line {line}, column {column}: an unclosed [ or {{, or a value that cannot be parsed";
        }
    }

    /// <summary>A string under a YAML path such as <c>api_keys.openai_api_key</c>.</summary>
    public string? Yaml(string dottedPath) =>
        Node(dottedPath) is YamlScalarNode s && !string.IsNullOrWhiteSpace(s.Value) ? s.Value.Trim() : null;

    /// <summary>The node under a YAML path, if any.</summary>
    private YamlNode? Node(string dottedPath)
    {
        YamlNode? node = _yaml;
        foreach (var part in dottedPath.Split('.'))
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(part), out var next))
            {
                return null;
            }

            node = next;
        }

        return node;
    }

    /// <summary>
    /// A two-level mapping at the top level of config/user.yaml, such as <c>prices:</c> (model → field → value): each
    /// entry with its 1-based line and its scalar fields. Empty when the key is absent.
    /// </summary>
    /// <exception cref="InputException">The key or one of its entries is not a mapping.</exception>
    public IReadOnlyList<YamlEntry> YamlEntries(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_yaml is null || !_yaml.Children.TryGetValue(new YamlScalarNode(key), out var node)
            || (node is YamlScalarNode { Value: null or "" or "~" or "null" }))
        {
            return [];
        }

        if (node is not YamlMappingNode map)
        {
            throw new InputException($"'{key}' must be a mapping (one entry per line, indented)", file: UserYamlPath, row: node.Start.Line, field: key);
        }

        var result = new List<YamlEntry>();
        foreach (var (k, v) in map.Children)
        {
            var name = ((YamlScalarNode)k).Value ?? string.Empty;
            if (v is not YamlMappingNode fields)
            {
                throw new InputException($"'{key}.{name}' must be a mapping of fields", file: UserYamlPath, row: v.Start.Line, field: key + "." + name);
            }

            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (fk, fv) in fields.Children)
            {
                if (fk is YamlScalarNode { Value: { } fieldName } && fv is YamlScalarNode { Value: { } value })
                {
                    values[fieldName] = value.Trim();
                }
            }

            result.Add(new YamlEntry(name, (int)k.Start.Line, values));
        }

        return result;
    }

    /// <summary>Resolves a value by precedence.</summary>
    public Setting Resolve(string? flagValue, string flagName, string? envName, string? yamlPath, string? defaultValue = null)
    {
        if (!string.IsNullOrWhiteSpace(flagValue))
        {
            return new Setting(flagValue.Trim(), SettingSource.Flag, flagName);
        }

        if (envName is not null)
        {
            if (_env(envName) is { } e && !string.IsNullOrWhiteSpace(e))
            {
                return new Setting(e.Trim(), SettingSource.Environment, envName);
            }

            if (_dotEnv.TryGetValue(envName, out var d) && !string.IsNullOrWhiteSpace(d))
            {
                return new Setting(d.Trim(), SettingSource.DotEnv, ".env " + envName);
            }
        }

        if (yamlPath is not null && Yaml(yamlPath) is { } y)
        {
            return new Setting(y, SettingSource.UserYaml, "config/user.yaml " + yamlPath);
        }

        return defaultValue is null ? new Setting(null, SettingSource.None, flagName) : new Setting(defaultValue, SettingSource.Default, "default");
    }

    /// <summary>The environment variable holding a provider's key.</summary>
    public static string KeyVariable(string provider) => provider switch
    {
        ProviderNames.Anthropic => "ANTHROPIC_API_KEY",
        ProviderNames.OpenRouter => "OPENROUTER_API_KEY",
        ProviderNames.Azure => "AZURE_OPENAI_API_KEY",
        _ => "OPENAI_API_KEY",
    };

    /// <summary>The YAML path of a provider's key.</summary>
    public static string KeyYamlPath(string provider) => provider switch
    {
        ProviderNames.Anthropic => "api_keys.anthropic_api_key",
        ProviderNames.OpenRouter => "api_keys.openrouter_api_key",
        ProviderNames.Azure => "api_keys.azure_openai_api_key",
        _ => "api_keys.openai_api_key",
    };

    /// <summary>The environment variable holding a provider's base URL.</summary>
    public static string BaseUrlVariable(string provider) => provider switch
    {
        ProviderNames.Anthropic => "ANTHROPIC_BASE_URL",
        ProviderNames.OpenRouter => "OPENROUTER_BASE_URL",
        ProviderNames.Azure => "AZURE_OPENAI_ENDPOINT",
        _ => "OPENAI_BASE_URL",
    };

    /// <summary>The YAML path of a provider's base URL.</summary>
    public static string BaseUrlYamlPath(string provider) => "base_urls." + provider;

    /// <summary>The built-in base URL of a provider; null for Azure, whose URL is the user's own resource.</summary>
    public static Uri? DefaultBaseUrl(string provider) => provider switch
    {
        ProviderNames.Anthropic => BatchClients.AnthropicDefaultBaseUrl,
        ProviderNames.OpenRouter => SyncClients.OpenRouterDefaultBaseUrl,
        ProviderNames.Azure => null,
        _ => BatchClients.OpenAIDefaultBaseUrl,
    };

    /// <summary>A provider's API key.</summary>
    public Setting ApiKey(string provider, string? flag) => Resolve(flag, "--api-key", KeyVariable(provider), KeyYamlPath(provider));

    /// <summary>A provider's base URL (no value for Azure until one is set).</summary>
    public Setting BaseUrl(string provider, string? flag) =>
        Resolve(flag, "--base-url", BaseUrlVariable(provider), BaseUrlYamlPath(provider), DefaultBaseUrl(provider)?.ToString().TrimEnd('/'));

    /// <summary>Azure OpenAI's <c>api-version</c>: the flag, <c>AZURE_OPENAI_API_VERSION</c>, <c>azure.api_version</c>, else the latest GA version.</summary>
    public Setting AzureApiVersion(string? flag) =>
        Resolve(flag, "--api-version", "AZURE_OPENAI_API_VERSION", "azure.api_version", SyncClients.AzureDefaultApiVersion);

    /// <summary>The provider configured for every model (<c>provider:</c> in config/user.yaml), if any.</summary>
    public Setting Provider(string? flag) => Resolve(flag, "--provider", null, "provider");

    /// <summary>The store path.</summary>
    public Setting Database(string? flag) => Resolve(flag, "--db", "BATCHPILOT_DB", "store.path", Path.Combine(DataDirectory(), "batchpilot.db"));

    /// <summary>
    /// The most all jobs together may spend per UTC day, in USD: <c>budget.daily_usd</c> in config/user.yaml (or the
    /// <c>BATCHPILOT_DAILY_BUDGET_USD</c> environment variable); null when not set.
    /// </summary>
    /// <exception cref="InputException">The value is not a non-negative amount.</exception>
    public decimal? DailyBudgetUsd()
    {
        var s = Resolve(null, "budget.daily_usd", "BATCHPILOT_DAILY_BUDGET_USD", "budget.daily_usd");
        if (s.Value is null)
        {
            return null;
        }

        if (!decimal.TryParse(s.Value.TrimStart('$'), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) || v < 0)
        {
            throw SettingError(s, $"'{s.Value}' is not an amount in USD", "give a number of dollars, e.g. 5 or 12.50");
        }

        return v;
    }

    /// <summary>
    /// Whether the response cache is used at all: <c>cache.enabled</c> in config/user.yaml (or <c>BATCHPILOT_CACHE</c>),
    /// true by default.
    /// </summary>
    /// <exception cref="InputException">The value is not a yes/no value.</exception>
    public bool CacheEnabled()
    {
        var s = Resolve(null, "cache.enabled", "BATCHPILOT_CACHE", "cache.enabled");
        return s.Value?.ToLowerInvariant() switch
        {
            null or "true" or "yes" or "on" or "1" => true,
            "false" or "no" or "off" or "0" => false,
            _ => throw SettingError(s, $"'{s.Value}' is not true or false", "use true (the default) or false"),
        };
    }

    /// <summary>A bad setting value: names config/user.yaml and the line when it came from there, else the variable.</summary>
    private InputException SettingError(Setting s, string message, string hint)
    {
        if (s.Source == SettingSource.UserYaml)
        {
            var path = s.Origin["config/user.yaml ".Length..];
            return new InputException(message, file: UserYamlPath, row: YamlLine(path), field: path, hint: hint);
        }

        return new InputException(message, field: s.Origin, hint: hint);
    }

    /// <summary>The 1-based line of a value in config/user.yaml, if it is there.</summary>
    private long? YamlLine(string dottedPath) => Node(dottedPath)?.Start.Line;

    /// <summary>The per-user data folder (<c>BATCHPILOT_HOME</c>, else the platform's local application data).</summary>
    public string DataDirectory()
    {
        if (_env("BATCHPILOT_HOME") is { Length: > 0 } home)
        {
            return Path.GetFullPath(home);
        }

        var baseDir = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(baseDir))
        {
            baseDir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        }

        return Path.Combine(baseDir, "batchpilot");
    }
}
