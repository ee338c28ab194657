using System.Globalization;
using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using BatchPilot.Cli.Config;
using BatchPilot.Emulator;
using BatchPilot.Errors;
using BatchPilot.Providers;
using BatchPilot.Providers.Http;
using BatchPilot.Storage.Sqlite;

namespace BatchPilot.Cli.Doctor;

/// <summary>What <see cref="DoctorChecks"/> needs from its caller.</summary>
internal sealed record DoctorOptions
{
    public required string WorkingDirectory { get; init; }

    public required Func<string, string?> Variables { get; init; }

    public required TimeProvider Time { get; init; }

    /// <summary>The <c>--db</c> flag, if given.</summary>
    public string? DbFlag { get; init; }

    /// <summary>Start the built-in emulator and check it.</summary>
    public bool StartEmulator { get; init; }

    /// <summary>Bound of each network check.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The health check behind <c>batchpilot doctor</c>: where each setting came from, the keys (masked, format),
/// each configured provider reachable with its key accepted, the store, free disk, the emulator.
/// Every check is one <see cref="DoctorCheck"/>; nothing here throws for a problem it can report.
/// </summary>
internal sealed class DoctorChecks
{
    private const long LowDisk = 1L << 30;
    private const long NoDisk = 100L << 20;

    private readonly DoctorOptions _o;
    private readonly List<DoctorCheck> _checks = [];
    private readonly List<DoctorSetting> _settings = [];
    private readonly List<string> _secrets = [];
    private readonly HashSet<string> _unreachableRoots = new(StringComparer.OrdinalIgnoreCase);
    private readonly string _nowhere = Path.Combine(Path.GetTempPath(), "batchpilot-doctor-none-" + Guid.NewGuid().ToString("N"));

    public DoctorChecks(DoctorOptions options) => _o = options;

    public async Task<DoctorReport> RunAsync(CancellationToken cancellationToken)
    {
        Runtime();
        var (settings, dotEnvOnly) = LoadSettings();
        foreach (var provider in ProviderNames.All)
        {
            await ProviderAsync(settings, dotEnvOnly, provider, cancellationToken).ConfigureAwait(false);
        }

        await StoreAsync(settings, dotEnvOnly, cancellationToken).ConfigureAwait(false);
        DataFolder(settings);
        await ConfiguredEmulatorsAsync(settings, cancellationToken).ConfigureAwait(false);
        if (_o.StartEmulator)
        {
            await BuiltInEmulatorAsync(cancellationToken).ConfigureAwait(false);
        }

        var failed = _checks.FirstOrDefault(c => c.Status == CheckStatus.Failed);
        return new DoctorReport
        {
            Ok = failed is null,
            ExitCode = failed?.ExitCode ?? ExitCodes.Success,
            Summary = new DoctorSummary(
                _checks.Count(c => c.Status == CheckStatus.Ok), _checks.Count(c => c.Status == CheckStatus.Warning), _checks.Count(c => c.Status == CheckStatus.Failed)),
            Checks = _checks,
            Settings = _settings,
        };
    }

    // ------------------------------------------------------------------ runtime and configuration

    private void Runtime()
    {
        var version = typeof(DoctorChecks).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        if (plus > 0)
        {
            version = version[..plus];
        }

        Ok("runtime", "version", $"batchpilot {version} on .NET {Environment.Version} ({RuntimeInformation.OSDescription.Trim()}, {RuntimeInformation.ProcessArchitecture})");
    }

    /// <summary>
    /// Loads settings like every verb does, but a malformed .env or config/user.yaml becomes a failed check and
    /// the other sources are still read (a file that cannot be parsed is left out, the way a missing one is).
    /// </summary>
    private (Settings Settings, Settings? DotEnvOnly) LoadSettings()
    {
        var wd = _o.WorkingDirectory;
        var dotEnvPath = Path.Combine(wd, ".env");
        var yamlPath = _o.Variables("BATCHPILOT_CONFIG") is { Length: > 0 } p ? Path.GetFullPath(p, wd) : Path.Combine(wd, "config", "user.yaml");
        var nowhereYaml = Path.Combine(_nowhere, "user.yaml");
        InputException? dotEnvError = null;
        InputException? yamlError = null;
        Settings? settings = null;
        while (settings is null)
        {
            var useWd = dotEnvError is null ? wd : _nowhere;
            var useYaml = yamlError is null ? yamlPath : nowhereYaml;
            try
            {
                settings = Settings.Load(useWd, Redirect(_o.Variables, useYaml));
            }
            catch (InputException ex) when (dotEnvError is null && string.Equals(ex.File, dotEnvPath, StringComparison.Ordinal))
            {
                dotEnvError = ex;
            }
            catch (InputException ex) when (yamlError is null && string.Equals(ex.File, yamlPath, StringComparison.Ordinal))
            {
                yamlError = ex;
            }
            catch (Exception ex) when (ex is not InputException and not OutOfMemoryException)
            {
                // Settings lets a few parser failures through (YamlDotNet throws InvalidOperationException on some
                // unclosed flow collections), and reading either file may fail: say which file, and where.
                if (dotEnvError is null && File.Exists(dotEnvPath) && Unreadable(dotEnvPath) is { } why)
                {
                    dotEnvError = new InputException($"cannot be read ({why})", ex, file: dotEnvPath, hint: "fix its permissions, or remove it");
                }
                else if (yamlError is null)
                {
                    yamlError = new InputException(YamlProblem(yamlPath, ex), ex, file: yamlPath, hint: "fix the file (indent with spaces, quote values containing ':' or '#', close every [ and {)");
                }
                else
                {
                    throw;
                }
            }
        }

        if (dotEnvError is not null)
        {
            Fail("config", ".env", Located(dotEnvError), dotEnvError.Hint ?? "fix or remove the line", ExitCodes.BadInput);
        }
        else if (File.Exists(dotEnvPath))
        {
            Ok("config", ".env", $"read {dotEnvPath}");
        }
        else
        {
            Ok("config", ".env", $"none in {wd} (optional)");
        }

        if (yamlError is not null)
        {
            Fail("config", "config/user.yaml", Located(yamlError), yamlError.Hint ?? "fix the file", ExitCodes.BadInput);
        }
        else if (settings.HasUserYaml)
        {
            Ok("config", "config/user.yaml", $"read {yamlPath}");
        }
        else
        {
            Ok("config", "config/user.yaml", File.Exists(yamlPath) ? $"{yamlPath} is empty" : $"none at {yamlPath} (optional)");
        }

        // The same files with no environment: tells which values .env holds (to report what the environment overrides).
        Settings? dotEnvOnly = null;
        if (dotEnvError is null && File.Exists(dotEnvPath))
        {
            dotEnvOnly = Settings.Load(wd, name => name == "BATCHPILOT_CONFIG" ? nowhereYaml : null);
        }

        return (settings, dotEnvOnly);
    }

    private static string? Unreadable(string path)
    {
        try
        {
            using var _ = File.OpenRead(path);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message.TrimEnd('.');
        }
    }

    /// <summary>Locates a YAML problem the settings loader did not: the position after the last event parsed.</summary>
    private static string YamlProblem(string path, Exception ex)
    {
        if (Unreadable(path) is { } why)
        {
            return $"cannot be read ({why})";
        }

        if (Settings.LocateYamlProblem(path) is { } located)
        {
            return located;
        }

        return $"invalid YAML ({ex.Message.TrimEnd('.')})";
    }

    private static Func<string, string?> Redirect(Func<string, string?> env, string yamlPath) =>
        name => name == "BATCHPILOT_CONFIG" ? yamlPath : env(name);

    private static string Located(InputException ex)
    {
        var where = ex.File is null ? string.Empty : ex.File + (ex.Row is { } r ? ", row " + r.ToString(CultureInfo.InvariantCulture) : string.Empty) + ": ";
        return where + ex.Message.TrimEnd('.');
    }

    /// <summary>Records where a setting came from and which lower-precedence places it overrode.</summary>
    private DoctorSetting Record(string name, Setting winner, Settings settings, Settings? dotEnvOnly, string? envName, string? yamlPath, string? defaultValue, bool secret)
    {
        string? Show(string? v) => v is null ? null : secret ? Secrets.Mask(v) : v;
        var candidates = new List<(SettingSource Source, string Origin, string? Value)>();
        if (envName is not null && _o.Variables(envName) is { } e && !string.IsNullOrWhiteSpace(e))
        {
            candidates.Add((SettingSource.Environment, envName, e.Trim()));
        }

        if (envName is not null && dotEnvOnly?.Resolve(null, name, envName, null) is { Source: SettingSource.DotEnv } d)
        {
            candidates.Add((SettingSource.DotEnv, d.Origin, d.Value));
        }

        if (yamlPath is not null && settings.Yaml(yamlPath) is { } y)
        {
            candidates.Add((SettingSource.UserYaml, "config/user.yaml " + yamlPath, y));
        }

        if (defaultValue is not null)
        {
            candidates.Add((SettingSource.Default, "default", defaultValue));
        }

        if (secret)
        {
            _secrets.AddRange(candidates.Select(c => c.Value).OfType<string>().Where(v => v.Length >= 8));
        }

        var overridden = candidates
            .Where(c => c.Source > winner.Source && c.Source != SettingSource.Default)
            .Select(c => new SettingCandidate(SourceName(c.Source), c.Origin, Show(c.Value)))
            .ToList();
        // Unset: name the places it could be set instead of the flag the resolver reports.
        var origin = winner.Source == SettingSource.None
            ? string.Join(" or ", new[] { envName, yamlPath is null ? null : "config/user.yaml " + yamlPath }.OfType<string>())
            : winner.Origin;
        var setting = new DoctorSetting { Name = name, Value = Show(winner.Value), Source = SourceName(winner.Source), Origin = origin, Overridden = overridden };
        _settings.Add(setting);
        return setting;
    }

    private static string SourceName(SettingSource source) => source switch
    {
        SettingSource.Flag => "flag",
        SettingSource.Environment => "environment",
        SettingSource.DotEnv => ".env",
        SettingSource.UserYaml => "config/user.yaml",
        SettingSource.Default => "default",
        _ => "none",
    };

    private static string Where(DoctorSetting s)
    {
        var from = s.Source switch
        {
            "environment" => "environment " + s.Origin,
            "flag" => "flag " + s.Origin,
            "default" => "default",
            _ => s.Origin,
        };
        return s.Overridden.Count == 0 ? from : $"{from}; overrides {string.Join(", ", s.Overridden.Select(o => o.Origin))}";
    }

    // ------------------------------------------------------------------ providers

    private async Task ProviderAsync(Settings settings, Settings? dotEnvOnly, string provider, CancellationToken cancellationToken)
    {
        var display = Operations.ErrorAdvice.DisplayName(provider);
        var keySetting = settings.ApiKey(provider, null);
        var keyView = Record(provider + ".api_key", keySetting, settings, dotEnvOnly, Settings.KeyVariable(provider), Settings.KeyYamlPath(provider), null, secret: true);
        var defaultUrl = Settings.DefaultBaseUrl(provider);
        var exampleUrl = defaultUrl?.ToString().TrimEnd('/') ?? "https://NAME.openai.azure.com";
        var urlSetting = settings.BaseUrl(provider, null);
        var urlView = Record(provider + ".base_url", urlSetting, settings, dotEnvOnly, Settings.BaseUrlVariable(provider), Settings.BaseUrlYamlPath(provider),
            defaultUrl?.ToString().TrimEnd('/'), secret: false);

        var key = keySetting.Value;
        var keyUsable = false;
        var optional = provider is ProviderNames.OpenRouter or ProviderNames.Azure;
        if (string.IsNullOrWhiteSpace(key) && optional && urlSetting.Source is SettingSource.None or SettingSource.Default)
        {
            // Providers most users never use are reported, not warned about.
            Ok(provider, "api key", $"not configured (only needed for {(provider == ProviderNames.OpenRouter ? "vendor/model ids through OpenRouter" : "--provider azure")}: set {Settings.KeyVariable(provider)})");
            return;
        }

        if (string.IsNullOrWhiteSpace(key))
        {
            Warn(provider, "api key", "not configured",
                $"set {Settings.KeyYamlPath(provider)} in config/user.yaml or the {Settings.KeyVariable(provider)} environment variable (only needed to use {display}; --emulator needs no key)");
        }
        else
        {
            keyUsable = CheckKeyFormat(provider, key, keySetting, keyView);
        }

        Uri? baseUrl = null;
        var url = urlSetting.Value;
        if (url is null)
        {
            Fail(provider, "base url", "no endpoint configured", $"set {Settings.BaseUrlVariable(provider)} or {Settings.BaseUrlYamlPath(provider)} in config/user.yaml to your resource URL ({exampleUrl})", ExitCodes.BadInput);
        }
        else if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            Fail(provider, "base url", $"'{url}' from {Where(urlView)} is not an http(s) URL", $"set a URL like {exampleUrl} there, or remove it to use the default", ExitCodes.BadInput);
        }
        else if (provider == ProviderNames.Anthropic && parsed.AbsolutePath.TrimEnd('/').EndsWith("/v1", StringComparison.Ordinal))
        {
            baseUrl = parsed;
            var root = url.TrimEnd('/')[..^3];
            Warn(provider, "base url", $"{url} ({Where(urlView)}) ends with /v1, but Anthropic base URLs are the host root (BatchPilot adds /v1/...)", $"set it to {root}");
        }
        else
        {
            baseUrl = parsed;
            var plain = parsed.Scheme == Uri.UriSchemeHttp && !parsed.IsLoopback;
            if (plain)
            {
                Warn(provider, "base url", $"{url} ({Where(urlView)}) is plain http: the key travels unencrypted", "use https unless this is a server on your own network");
            }
            else
            {
                Ok(provider, "base url", $"{url} ({Where(urlView)})");
            }
        }

        if (keyUsable && baseUrl is not null)
        {
            await ConnectionAsync(provider, provider, "connection", baseUrl, key!, keyView, cancellationToken, settings.AzureApiVersion(null).Value).ConfigureAwait(false);
        }
    }

    /// <summary>Checks a key's shape; returns false when it cannot even be sent.</summary>
    private bool CheckKeyFormat(string provider, string key, Setting setting, DoctorSetting view)
    {
        var masked = Secrets.Mask(key);
        var where = Where(view);
        var display = Operations.ErrorAdvice.DisplayName(provider);
        if (key.Length >= 2 && (key[0] is '"' or '\'') && key[^1] == key[0])
        {
            Fail(provider, "api key", $"{masked} from {where} is wrapped in quotes", $"remove the quotes around the key in {setting.Origin}", ExitCodes.MissingKey);
            return false;
        }

        if (key.Any(char.IsWhiteSpace) || key.Any(char.IsControl))
        {
            Fail(provider, "api key", $"{masked} from {where} contains a space or line break inside", $"copy the key again, as one piece, into {setting.Origin}", ExitCodes.MissingKey);
            return false;
        }

        if (key.Any(c => c > 0x7e))
        {
            Fail(provider, "api key", $"{masked} from {where} contains non-ASCII characters (a typographic quote or dash?)", $"copy the key again from {KeysPage(provider)} into {setting.Origin}", ExitCodes.MissingKey);
            return false;
        }

        var trimmed = setting.Source == SettingSource.Environment && _o.Variables(setting.Origin) is { } raw && raw != raw.Trim()
            ? "; surrounding spaces trimmed"
            : string.Empty;
        var prefix = Secrets.ExpectedPrefix(provider);
        if (provider == ProviderNames.OpenAI && key.StartsWith(Secrets.ExpectedPrefix(ProviderNames.Anthropic), StringComparison.Ordinal))
        {
            Warn(provider, "api key", $"{masked} from {where} looks like an Anthropic key (it starts with 'sk-ant-'); OpenAI keys start with '{prefix}' but not 'sk-ant-'",
                $"put this key in {Settings.KeyVariable(ProviderNames.Anthropic)} and an OpenAI key (from {KeysPage(provider)}) in {setting.Origin}");
        }
        else if (!key.StartsWith(prefix, StringComparison.Ordinal))
        {
            Warn(provider, "api key", $"{masked} from {where} does not start with '{prefix}' as {provider} keys do{trimmed}",
                $"check that this is an {display} key (create one at {KeysPage(provider)}); servers other than {display} may accept other keys");
        }
        else if (key.Length < 20)
        {
            Warn(provider, "api key", $"{masked} from {where} is only {key.Length.ToString(CultureInfo.InvariantCulture)} characters long, shorter than {display} keys{trimmed}",
                $"copy the whole key again from {KeysPage(provider)}");
        }
        else
        {
            Ok(provider, "api key", $"{masked} from {where}{trimmed}");
        }

        return true;
    }

    private static string KeysPage(string provider) => provider switch
    {
        ProviderNames.Anthropic => "https://console.anthropic.com/settings/keys",
        ProviderNames.OpenRouter => "https://openrouter.ai/settings/keys",
        ProviderNames.Azure => "the Azure portal (your resource, Keys and Endpoint)",
        _ => "https://platform.openai.com/api-keys",
    };

    /// <summary>
    /// A cheap authenticated call, bounded by the timeout: GET {base}/models (OpenAI), {base}/v1/models (Anthropic),
    /// {base}/key (OpenRouter, whose model list needs no key), {resource}/openai/models?api-version=… (Azure).
    /// </summary>
    private async Task<bool> ConnectionAsync(string area, string provider, string name, Uri baseUrl, string key, DoctorSetting? keyView, CancellationToken cancellationToken, string? azureApiVersion = null)
    {
        var display = Operations.ErrorAdvice.DisplayName(provider);
        var root = baseUrl.ToString().TrimEnd('/');
        var url = new Uri(provider switch
        {
            ProviderNames.Anthropic => root + "/v1/models",
            ProviderNames.OpenRouter => root + "/key",
            ProviderNames.Azure => (root.EndsWith("/openai", StringComparison.OrdinalIgnoreCase) ? root[..^7] : root) + "/openai/models?api-version=" + Uri.EscapeDataString(azureApiVersion ?? SyncClients.AzureDefaultApiVersion),
            _ => root + "/models",
        });
        var keyOrigin = keyView is null ? "the key" : $"the key from {Where(keyView)}";
        using var http = ProviderHttp.CreateClient(new RetryOptions { MaxRetries = 0 }, _o.Time);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (provider == ProviderNames.Anthropic)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", key);
            request.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
        }
        else if (provider == ProviderNames.Azure)
        {
            request.Headers.TryAddWithoutValidation("api-key", key);
        }
        else
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_o.Timeout);
        var started = _o.Time.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _unreachableRoots.Add(Root(baseUrl));
            Fail(area, name, $"GET {url} got no answer within {_o.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s",
                $"check the network, a proxy (HTTPS_PROXY) and the base URL; {display}'s status page tells whether it is down", ExitCodes.ProviderError);
            return false;
        }
        catch (HttpRequestException ex)
        {
            _unreachableRoots.Add(Root(baseUrl));
            var why = ex.InnerException is HttpRequestException inner ? inner.Message : ex.Message;
            Fail(area, name, $"cannot reach {url.GetLeftPart(UriPartial.Authority)}: {Scrub(why)}",
                baseUrl.IsLoopback
                    ? $"start the local server (for the emulator: 'batchpilot emulator --urls {url.GetLeftPart(UriPartial.Authority)}'), or fix the base URL"
                    : "check the network, a proxy (HTTPS_PROXY) and the base URL",
                ExitCodes.ProviderError);
            return false;
        }

        using (response)
        {
            var elapsed = _o.Time.GetElapsedTime(started);
            var status = (int)response.StatusCode;
            var took = $"{Math.Round(elapsed.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)} ms";
            if (response.IsSuccessStatusCode)
            {
                Ok(area, name, $"GET {url} answered {status} in {took}: reachable, key accepted");
                return true;
            }

            string body;
            try
            {
                using var read = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                read.CancelAfter(_o.Timeout);
                body = await response.Content.ReadAsStringAsync(read.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                body = string.Empty;
            }

            var (code, message) = ProviderHttp.ParseError(body);
            var said = Scrub($"HTTP {status}{(code is null ? string.Empty : " " + code)}{(message is null ? string.Empty : ": " + message.TrimEnd('.'))}");
            if (status is 401 or 403)
            {
                Fail(area, name, $"{display} refused {keyOrigin} ({said})",
                    $"the key is wrong, revoked, or lacks permission: create one at {KeysPage(provider)} and set it there", ExitCodes.MissingKey);
            }
            else if (status == 402 || code is "insufficient_quota" or "billing_error")
            {
                Fail(area, name, $"key accepted, but the account has no credit or quota left ({said})", $"add credits or raise the spending limit at {display}", ExitCodes.ProviderError);
            }
            else if (status == 404)
            {
                Fail(area, name, $"GET {url} answered 404 ({said}): the base URL looks wrong",
                    provider switch
                    {
                        ProviderNames.Anthropic => "Anthropic base URLs are the host root, without /v1 (e.g. https://api.anthropic.com)",
                        ProviderNames.OpenRouter => "the OpenRouter base URL is https://openrouter.ai/api/v1",
                        ProviderNames.Azure => "the Azure endpoint is your resource URL (https://NAME.openai.azure.com), and the api-version must exist",
                        _ => "OpenAI-compatible base URLs end with /v1 (e.g. https://api.openai.com/v1)",
                    },
                    ExitCodes.ProviderError);
            }
            else if (status == (int)HttpStatusCode.TooManyRequests)
            {
                Warn(area, name, $"reachable and key accepted, but rate-limited right now ({said})", "nothing to fix for batches (they have their own limits); wait a minute for synchronous calls");
            }
            else if (status >= 500)
            {
                Warn(area, name, $"reachable, but {display} answered {said}; the key could not be checked", "try again later");
            }
            else
            {
                Fail(area, name, $"GET {url} answered {said}", "check the base URL and the key", ExitCodes.ProviderError);
            }

            return false;
        }
    }

    private string Scrub(string text)
    {
        foreach (var s in _secrets)
        {
            text = text.Replace(s, Secrets.Mask(s), StringComparison.Ordinal);
        }

        return text;
    }

    private static string Root(Uri u) => u.GetLeftPart(UriPartial.Authority);

    // ------------------------------------------------------------------ store

    private async Task StoreAsync(Settings settings, Settings? dotEnvOnly, CancellationToken cancellationToken)
    {
        var defaultPath = Path.Combine(settings.DataDirectory(), "batchpilot.db");
        var setting = settings.Database(_o.DbFlag);
        var view = Record("store.path", setting, settings, dotEnvOnly, "BATCHPILOT_DB", "store.path", defaultPath, secret: false);
        string full;
        try
        {
            full = Path.GetFullPath(setting.Value!);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            Fail("store", "path", $"'{setting.Value}' from {Where(view)} is not a valid path ({ex.Message.TrimEnd('.')})", "set --db or BATCHPILOT_DB to a file path", ExitCodes.StoreError);
            return;
        }

        Ok("store", "path", $"{full} ({Where(view)})");
        if (!File.Exists(full))
        {
            Ok("store", "open", "not created yet: it will be created on first use");
        }
        else
        {
            try
            {
                using var store = SqliteJobStore.Open(full, _o.Time);
                var jobs = await store.ListJobsAsync(int.MaxValue, cancellationToken).ConfigureAwait(false);
                Ok("store", "open", $"opened: schema version {store.SchemaVersion.ToString(CultureInfo.InvariantCulture)}, {jobs.Count.ToString(CultureInfo.InvariantCulture)} job(s)");
            }
            catch (InputException ex)
            {
                Fail("store", "open", Located(ex), ex.Hint ?? "point --db (or BATCHPILOT_DB) at another file", ex.ExitCode);
            }
        }

        Writable("store", "writable", full, "the store file", "SQLite writes -wal and -shm files beside the store", "point --db (or BATCHPILOT_DB) at a writable place");
        FreeDisk(full);
    }

    private void DataFolder(Settings settings)
    {
        var dir = settings.DataDirectory();
        var from = _o.Variables("BATCHPILOT_HOME") is { Length: > 0 } ? "environment BATCHPILOT_HOME" : "default";
        _settings.Add(new DoctorSetting { Name = "data_directory", Value = dir, Source = from == "default" ? "default" : "environment", Origin = from == "default" ? "default" : "BATCHPILOT_HOME", Overridden = [] });
        var folder = NearestExisting(dir);
        if (folder is null)
        {
            Fail("store", "data folder", $"{dir} ({from}): no part of this path exists", "set BATCHPILOT_HOME to a writable folder", ExitCodes.StoreError);
            return;
        }

        var problem = CanCreateFileIn(folder);
        if (problem is null)
        {
            Ok("store", "data folder", $"{dir} ({from}{(Directory.Exists(dir) ? string.Empty : "; created on first use")}): writable");
        }
        else
        {
            Fail("store", "data folder", $"{dir} ({from}): cannot create files in {folder} ({problem})", "set BATCHPILOT_HOME to a writable folder (it holds request spool files and emulator state)", ExitCodes.StoreError);
        }
    }

    private void Writable(string area, string name, string file, string what, string why, string fix)
    {
        var folder = NearestExisting(Path.GetDirectoryName(file) ?? file);
        if (folder is null)
        {
            Fail(area, name, $"no part of the folder of {file} exists", fix, ExitCodes.StoreError);
            return;
        }

        if (File.Exists(file))
        {
            try
            {
                using (new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
                {
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(area, name, $"{what} cannot be opened for writing ({ex.Message.TrimEnd('.')})", $"make it writable (e.g. chmod u+w), or {fix}", ExitCodes.StoreError);
                return;
            }
        }

        var problem = CanCreateFileIn(folder);
        if (problem is not null)
        {
            Fail(area, name, $"cannot create files in {folder} ({problem}); {why}", fix, ExitCodes.StoreError);
            return;
        }

        Ok(area, name, File.Exists(file) ? $"{what} and its folder are writable" : $"{folder} is writable");
    }

    private void FreeDisk(string file)
    {
        var folder = NearestExisting(Path.GetDirectoryName(file) ?? file);
        if (folder is null)
        {
            return;
        }

        try
        {
            var drive = new DriveInfo(OperatingSystem.IsWindows() ? Path.GetPathRoot(folder)! : folder);
            var free = drive.AvailableFreeSpace;
            var text = $"{Bytes(free)} free for {folder}";
            if (free < NoDisk)
            {
                Fail("store", "disk", text, "free some disk space, or put the store elsewhere with --db: results are kept in the store", ExitCodes.StoreError);
            }
            else if (free < LowDisk)
            {
                Warn("store", "disk", text, "free some disk space: results are kept in the store, and large jobs need room");
            }
            else
            {
                Ok("store", "disk", text);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            Warn("store", "disk", $"free space unknown ({ex.Message.TrimEnd('.')})", "check the free space yourself");
        }
    }

    private static string? NearestExisting(string path)
    {
        var dir = Path.GetFullPath(path);
        while (!Directory.Exists(dir))
        {
            var parent = Path.GetDirectoryName(dir);
            if (parent is null || parent == dir)
            {
                return null;
            }

            dir = parent;
        }

        return dir;
    }

    private static string? CanCreateFileIn(string folder)
    {
        try
        {
            var probe = Path.Combine(folder, ".batchpilot-doctor-" + Guid.NewGuid().ToString("N")[..12] + ".tmp");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }

            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message.TrimEnd('.');
        }
    }

    private static string Bytes(long n) => n switch
    {
        >= 1L << 30 => (n / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GB",
        >= 1L << 20 => (n / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
        _ => n.ToString(CultureInfo.InvariantCulture) + " bytes",
    };

    // ------------------------------------------------------------------ emulator

    /// <summary>A base URL on this machine may be the emulator: if it answers its health endpoint, say so.</summary>
    private async Task ConfiguredEmulatorsAsync(Settings settings, CancellationToken cancellationToken)
    {
        var roots = new List<(string Root, string Providers)>();
        foreach (var provider in ProviderNames.All)
        {
            if (Uri.TryCreate(settings.BaseUrl(provider, null).Value, UriKind.Absolute, out var u) && u.IsLoopback && u.Scheme == Uri.UriSchemeHttp)
            {
                var root = Root(u);
                var i = roots.FindIndex(r => string.Equals(r.Root, root, StringComparison.OrdinalIgnoreCase));
                if (i >= 0)
                {
                    roots[i] = (root, roots[i].Providers + " and " + provider);
                }
                else
                {
                    roots.Add((root, provider));
                }
            }
        }

        foreach (var (root, providers) in roots)
        {
            if (_unreachableRoots.Contains(root))
            {
                continue;
            }

            var (answered, detail) = await HealthAsync(new Uri(root + "/"), cancellationToken).ConfigureAwait(false);
            if (answered)
            {
                Ok("emulator", "configured", $"the emulator answers at {root} (base URL of {providers}): {detail}");
            }
            else if (detail is not null)
            {
                Fail("emulator", "configured", $"the {providers} base URL points at {root}, where nothing answers ({detail})",
                    $"start it ('batchpilot emulator --urls {root}'), or fix the base URL", ExitCodes.ProviderError);
            }
        }
    }

    private async Task BuiltInEmulatorAsync(CancellationToken cancellationToken)
    {
        EmulatorServer server;
        try
        {
            server = await EmulatorServer.StartAsync(new EmulatorOptions { Urls = "http://127.0.0.1:0", BatchDuration = TimeSpan.FromSeconds(1) }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            Fail("emulator", "built-in", $"could not start ({ex.Message.TrimEnd('.')})", "check that this machine lets programs listen on 127.0.0.1 (firewall, sandbox)", ExitCodes.ProviderError);
            return;
        }

        await using (server.ConfigureAwait(false))
        {
            var (answered, detail) = await HealthAsync(server.BaseAddress, cancellationToken).ConfigureAwait(false);
            if (answered)
            {
                Ok("emulator", "built-in", $"started at {server.BaseAddress} and answers: {detail}");
            }
            else
            {
                Fail("emulator", "built-in", $"started at {server.BaseAddress} but its health check failed ({detail})", "run with --verbose and report it", ExitCodes.InternalError);
                return;
            }

            await ConnectionAsync("emulator", ProviderNames.OpenAI, "openai api", new Uri(server.BaseAddress, "v1"), CliContext.EmulatorKey, null, cancellationToken).ConfigureAwait(false);
            await ConnectionAsync("emulator", ProviderNames.Anthropic, "anthropic api", server.BaseAddress, CliContext.EmulatorKey, null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>GET /_emulator/health. (true, detail) when it is the emulator; (false, reason) when nothing answers; (false, null) for another server.</summary>
    private async Task<(bool Answered, string? Detail)> HealthAsync(Uri root, CancellationToken cancellationToken)
    {
        using var http = ProviderHttp.CreateClient(new RetryOptions { MaxRetries = 0 }, _o.Time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_o.Timeout);
        try
        {
            using var response = await http.GetAsync(new Uri(root, "_emulator/health"), timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (false, null);
            }

            var body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(body);
            var e = doc.RootElement;
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("status", out var s) || s.GetString() != "ok")
            {
                return (false, null);
            }

            var batches = e.TryGetProperty("batches", out var b) && b.TryGetInt64(out var nb) ? nb : 0;
            var files = e.TryGetProperty("files", out var f) && f.TryGetInt64(out var nf) ? nf : 0;
            return (true, $"health ok, {batches.ToString(CultureInfo.InvariantCulture)} batch(es), {files.ToString(CultureInfo.InvariantCulture)} file(s)");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, $"no answer within {_o.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (HttpRequestException ex)
        {
            return (false, (ex.InnerException as HttpRequestException)?.Message ?? ex.Message);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return (false, null);
        }
    }

    // ------------------------------------------------------------------ recording

    private void Ok(string area, string name, string message) =>
        _checks.Add(new DoctorCheck { Area = area, Name = name, Status = CheckStatus.Ok, Message = Scrub(message) });

    private void Warn(string area, string name, string message, string fix) =>
        _checks.Add(new DoctorCheck { Area = area, Name = name, Status = CheckStatus.Warning, Message = Scrub(message), Fix = Scrub(fix) });

    private void Fail(string area, string name, string message, string fix, int exitCode) =>
        _checks.Add(new DoctorCheck { Area = area, Name = name, Status = CheckStatus.Failed, Message = Scrub(message), Fix = Scrub(fix), ExitCode = exitCode });
}
