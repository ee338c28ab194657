using BatchPilot.Cli.Config;
using BatchPilot.Emulator;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Providers;
using BatchPilot.Running;
using BatchPilot.Storage;
using BatchPilot.Storage.Sqlite;

namespace BatchPilot.Cli;

/// <summary>Options every verb accepts.</summary>
internal sealed record GlobalOptions(string? Db, bool Json, bool Verbose);

/// <summary>
/// What a verb needs: settings, the store, the embedded emulator when a job uses it, and provider clients.
/// Opened lazily, disposed at the end of the verb.
/// </summary>
internal sealed class CliContext : IAsyncDisposable
{
    /// <summary>The endpoint name of jobs run on the embedded emulator.</summary>
    public const string EmulatorEndpoint = "emulator";

    /// <summary>The key used with the embedded emulator (it accepts any key).</summary>
    public const string EmulatorKey = "sk-emulator-0000000000000000000000";

    private readonly SemaphoreSlim _emulatorGate = new(1, 1);
    private readonly HashSet<string> _warnedKeys = [];
    private IJobStore? _store;
    private EmulatorServer? _emulator;

    public CliContext(GlobalOptions globals, Ui.Ui ui, Settings settings, TimeProvider time)
    {
        Globals = globals;
        Ui = ui;
        Settings = settings;
        Time = time;
    }

    public GlobalOptions Globals { get; }

    public Ui.Ui Ui { get; }

    public Settings Settings { get; }

    public TimeProvider Time { get; }

    /// <summary>
    /// A user-given path relative to the CLI's working folder. Unchanged when that is the process's own folder,
    /// so messages show the path as the user typed it.
    /// </summary>
    public string Resolve(string path) =>
        path == "-" || Path.IsPathRooted(path) || Settings.WorkingDirectory == Directory.GetCurrentDirectory()
            ? path
            : Path.Combine(Settings.WorkingDirectory, path);

    /// <summary>The price table: the built-in one with the <c>prices:</c> overrides of config/user.yaml (loaded on first use).</summary>
    public Pricing.PriceTable Prices => _prices ??= Commands.PriceSettings.Load(Settings);

    private Pricing.PriceTable? _prices;

    /// <summary>The store (opened on first use).</summary>
    public IJobStore Store => _store ??= SqliteJobStore.Open(Settings.Database(Globals.Db).Value!, Time);

    /// <summary>The store's comparison groups.</summary>
    public IGroupStore Groups => Store as IGroupStore ?? throw new InvalidOperationException($"the store {Store.Location} keeps no comparison groups");

    /// <summary>Seconds each embedded-emulator batch takes (flag, then BATCHPILOT_EMULATOR_BATCH_DURATION, then 5).</summary>
    public double? EmulatorBatchSeconds { get; set; }

    /// <summary>Starts the in-process emulator once, with its state under the data folder so reruns find their batches.</summary>
    public async Task<Uri> EmulatorAsync(CancellationToken cancellationToken)
    {
        await _emulatorGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await StartEmulatorOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _emulatorGate.Release();
        }
    }

    private async Task<Uri> StartEmulatorOnceAsync(CancellationToken cancellationToken)
    {
        if (_emulator is null)
        {
            var seconds = EmulatorBatchSeconds
                ?? (double.TryParse(Environment.GetEnvironmentVariable("BATCHPILOT_EMULATOR_BATCH_DURATION"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 5);
            _emulator = await EmulatorServer.StartAsync(
                new EmulatorOptions
                {
                    Urls = "http://127.0.0.1:0",
                    BatchDuration = TimeSpan.FromSeconds(seconds),
                    DataDirectory = Path.Combine(Settings.DataDirectory(), "emulator"),
                },
                cancellationToken).ConfigureAwait(false);
        }

        return _emulator.BaseAddress;
    }

    /// <summary>Resolves the API key of a provider or fails with the one-line missing-key message.</summary>
    public string RequireKey(string provider, string model, string? flag)
    {
        var setting = Settings.ApiKey(provider, flag);
        if (string.IsNullOrWhiteSpace(setting.Value))
        {
            throw new InputException(
                $"no API key for model {model} (provider {provider}): set {Settings.KeyYamlPath(provider)} in config/user.yaml or the {Settings.KeyVariable(provider)} environment variable, or add --emulator to try offline",
                exitCode: ExitCodes.MissingKey);
        }

        var prefix = Secrets.ExpectedPrefix(provider);
        bool firstTime;
        lock (_warnedKeys)
        {
            firstTime = _warnedKeys.Add(provider);
        }

        if (firstTime && !setting.Value.StartsWith(prefix, StringComparison.Ordinal))
        {
            Ui.Warn($"the {provider} key from {setting.Origin} ({Secrets.Mask(setting.Value)}) does not start with '{prefix}' as {provider} keys do.");
        }

        return setting.Value;
    }

    /// <summary>Where a job's provider is reached and with which key (the embedded emulator needs none).</summary>
    private async Task<(Uri BaseUrl, string Key)> EndpointAsync(JobSpec spec, string? apiKeyFlag, CancellationToken cancellationToken)
    {
        if (spec.Endpoint == EmulatorEndpoint)
        {
            var root = await EmulatorAsync(cancellationToken).ConfigureAwait(false);
            return (EmulatorBaseUrl(root, spec.Provider), EmulatorKey);
        }

        return (new Uri(spec.Endpoint), RequireKey(spec.Provider, spec.Model, apiKeyFlag));
    }

    /// <summary>Where the emulator serves a provider: OpenAI under /v1, OpenRouter under /api/v1, Anthropic and Azure at the root.</summary>
    public static Uri EmulatorBaseUrl(Uri root, string provider) => provider switch
    {
        ProviderNames.Anthropic or ProviderNames.Azure => root,
        ProviderNames.OpenRouter => new Uri(root, "api/v1"),
        _ => new Uri(root, "v1"),
    };

    /// <summary>The <c>--api-version</c> flag of the verb (Azure OpenAI), if given.</summary>
    public string? ApiVersionFlag { get; set; }

    private BatchClientOptions ClientOptions(JobSpec spec, Uri baseUrl, string key, int? maxRequestsPerBatch) => new()
    {
        Api = spec.Api,
        ApiVersion = spec.Provider == ProviderNames.Azure ? Settings.AzureApiVersion(ApiVersionFlag).Value : null,
        Provider = spec.Provider,
        BaseUrl = baseUrl,
        ApiKey = key,
        SpoolDirectory = Path.Combine(Settings.DataDirectory(), "spool"),
        MaxRequestsPerBatch = maxRequestsPerBatch,
        Retry = RetryOptions(),
        OnRetry = (attempt, delay, reason) => Ui.Warn($"{spec.Provider}: {reason}; retry {attempt} in {delay.TotalSeconds:0.#} s."),
        BatchEndpoint = spec.RawUrl,
    };

    /// <summary>A batch client for a job's provider and endpoint.</summary>
    public async Task<IBatchClient> ClientAsync(JobSpec spec, string? apiKeyFlag, int? maxRequestsPerBatch, CancellationToken cancellationToken)
    {
        var (baseUrl, key) = await EndpointAsync(spec, apiKeyFlag, cancellationToken).ConfigureAwait(false);
        return BatchClients.Create(ClientOptions(spec, baseUrl, key, maxRequestsPerBatch), Time);
    }

    /// <summary>A synchronous client for a job's provider and endpoint (retries are not announced one by one: the limiter paces them).</summary>
    public async Task<ISyncClient> SyncClientAsync(JobSpec spec, string? apiKeyFlag, CancellationToken cancellationToken)
    {
        var (baseUrl, key) = await EndpointAsync(spec, apiKeyFlag, cancellationToken).ConfigureAwait(false);
        return SyncClients.Create(ClientOptions(spec, baseUrl, key, null) with { OnRetry = null }, Time);
    }

    /// <summary>The rate-limit flags of a sync run (null: not given).</summary>
    public sealed record RateLimitFlags(long? Rpm, long? Tpm, long? Itpm, long? Otpm);

    /// <summary>
    /// Rate limits for sync mode: each flag, else <c>rate_limits.MODEL.{rpm,tpm,itpm,otpm}</c> in config/user.yaml, else
    /// <c>rate_limits.PROVIDER.…</c> (e.g. <c>rate_limits.openrouter.rpm</c>); limits still unknown are learned from the
    /// provider's rate-limit headers.
    /// </summary>
    /// <exception cref="InputException">A configured value is not a positive number (names the file, line and key).</exception>
    public SyncLimiter Limiter(string model, string provider, RateLimitFlags flags)
    {
        ArgumentNullException.ThrowIfNull(flags);
        var entries = Settings.YamlEntries("rate_limits");
        var forModel = entries.FirstOrDefault(e => string.Equals(e.Name, model, StringComparison.Ordinal));
        var forProvider = entries.FirstOrDefault(e => string.Equals(e.Name, provider, StringComparison.Ordinal));
        long? Read(long? flag, string key)
        {
            if (flag is not null)
            {
                return flag;
            }

            var entry = forModel is not null && forModel.Values.ContainsKey(key) ? forModel : forProvider;
            if (entry is null || !entry.Values.TryGetValue(key, out var value))
            {
                return null;
            }

            return long.TryParse(value.Replace("_", string.Empty, StringComparison.Ordinal).Replace(",", string.Empty, StringComparison.Ordinal), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
                ? n
                : throw new InputException($"'{value}' is not a positive number", file: Settings.UserYamlPath, row: entry.Line, field: $"rate_limits.{entry.Name}.{key}", hint: "give a number of requests or tokens per minute, e.g. 500");
        }

        return new SyncLimiter(Time, Read(flags.Rpm, "rpm"), Read(flags.Tpm, "tpm"), Read(flags.Itpm, "itpm"), Read(flags.Otpm, "otpm"));
    }

    /// <summary>Finds a job or fails with a not-found line.</summary>
    public async Task<JobRecord> RequireJobAsync(string idOrName, CancellationToken cancellationToken)
    {
        return await Store.GetJobAsync(idOrName, cancellationToken).ConfigureAwait(false)
            ?? throw new InputException($"no job '{idOrName}' in {Store.Location}", field: "JOB", hint: "see 'batchpilot jobs' for the ids", exitCode: ExitCodes.NotFound);
    }

    /// <summary><c>--no-cache</c> was given: the response cache is not read (answers are still stored).</summary>
    public bool NoCacheFlag { get; set; }

    private BudgetAlerts? _alerts;

    /// <summary>
    /// Prices (with the config overrides), the daily budget (<c>budget.daily_usd</c>) and the cache mode
    /// (<c>cache.enabled</c>, <c>--no-cache</c>) for engines and sync runners; budget alerts are shared by all of them.
    /// </summary>
    public CostOptions Costs => new()
    {
        Prices = Prices,
        DailyBudgetUsd = Settings.DailyBudgetUsd(),
        Cache = !Settings.CacheEnabled() ? CacheMode.Off : NoCacheFlag ? CacheMode.WriteOnly : CacheMode.ReadWrite,
        Alerts = _alerts ??= new BudgetAlerts(),
    };

    /// <summary>Most estimated input tokens per batch given on the command line, if any.</summary>
    public long? MaxBatchTokensFlag { get; set; }

    /// <summary>
    /// Engine settings: the per-model enqueued-token limit (flag, BATCHPILOT_MAX_BATCH_TOKENS, or
    /// <c>enqueued_token_limits.MODEL</c> in config/user.yaml), and the waits after refusals
    /// (BATCHPILOT_TOKEN_LIMIT_DELAY and BATCHPILOT_CREATE_RETRY_DELAY, in seconds).
    /// </summary>
    public EngineOptions EngineOptions(string model)
    {
        var options = new EngineOptions { Costs = Costs };
        var tokens = Settings.Resolve(MaxBatchTokensFlag?.ToString(System.Globalization.CultureInfo.InvariantCulture), "--max-batch-tokens", "BATCHPILOT_MAX_BATCH_TOKENS", "enqueued_token_limits." + model);
        if (tokens.Value is { } t)
        {
            if (!long.TryParse(t.Replace(",", string.Empty, StringComparison.Ordinal).Replace("_", string.Empty, StringComparison.Ordinal), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) || n < 1)
            {
                throw new InputException($"'{t}' is not a positive number of tokens", field: tokens.Origin);
            }

            options = options with { MaxTokensPerBatch = n };
        }

        if (Seconds("BATCHPILOT_TOKEN_LIMIT_DELAY") is { } d)
        {
            options = options with { TokenLimitDelay = d };
        }

        if (Seconds("BATCHPILOT_CREATE_RETRY_DELAY") is { } c)
        {
            options = options with { CreateRetryDelay = c };
        }

        return options;
    }

    /// <summary>HTTP retries of transient failures: BATCHPILOT_HTTP_RETRIES (default 6) and BATCHPILOT_HTTP_RETRY_DELAY (first delay in seconds, default 0.5).</summary>
    private Providers.Http.RetryOptions RetryOptions()
    {
        var options = new Providers.Http.RetryOptions();
        if (Settings.Resolve(null, "BATCHPILOT_HTTP_RETRIES", "BATCHPILOT_HTTP_RETRIES", null).Value is { } r
            && int.TryParse(r, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            options = options with { MaxRetries = n };
        }

        if (Seconds("BATCHPILOT_HTTP_RETRY_DELAY") is { } d)
        {
            options = options with { BaseDelay = d };
        }

        return options;
    }

    /// <summary>Retries of sync requests: the same BATCHPILOT_HTTP_RETRIES and BATCHPILOT_HTTP_RETRY_DELAY as the HTTP retries.</summary>
    public SyncRetryOptions SyncRetryOptions()
    {
        var http = RetryOptions();
        return new SyncRetryOptions { MaxRetries = http.MaxRetries, BaseDelay = http.BaseDelay, MaxDelay = http.MaxDelay, MaxServerHint = http.MaxServerHint };
    }

    private TimeSpan? Seconds(string variable) =>
        Settings.Resolve(null, variable, variable, null).Value is { } v
        && double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s >= 0
            ? TimeSpan.FromSeconds(s)
            : null;

    /// <summary>An engine for a job.</summary>
    public JobEngine Engine(IBatchClient client, JobSpec spec) => new(Store, client, Time, Ui, EngineOptions(spec.Model));

    public async ValueTask DisposeAsync()
    {
        _store?.Dispose();
        _emulatorGate.Dispose();
        if (_emulator is not null)
        {
            await _emulator.DisposeAsync().ConfigureAwait(false);
        }
    }
}
