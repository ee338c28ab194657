using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace BatchPilot.Emulator.Storage;

/// <summary>
/// Files and batches on disk under the data directory, with an in-memory index of their small
/// metadata records. File contents never live in memory. Layout:
/// <c>files/{id}.json</c> + <c>files/{id}.data</c>, <c>openai/{id}.json</c>, <c>anthropic/{id}.json</c> +
/// <c>{id}.requests.jsonl</c> + <c>{id}.results.jsonl</c>, <c>ids/{batch id}.ids</c> (custom ids, one per line),
/// <c>first-attempt-failures.txt</c>.
/// </summary>
internal sealed class EmulatorStore : IDisposable
{
    private readonly bool _deleteOnDispose;
    private readonly HashSet<ulong> _firstAttemptFailures = [];
    private readonly Lock _firstAttemptLock = new();
    private long _seq;

    public EmulatorStore(string? dataDirectory)
    {
        _deleteOnDispose = dataDirectory is null;
        Root = Path.GetFullPath(dataDirectory ?? Path.Combine(Path.GetTempPath(), "batchpilot-emulator-" + Guid.NewGuid().ToString("N")));
        FilesDir = Directory.CreateDirectory(Path.Combine(Root, "files")).FullName;
        OpenAIDir = Directory.CreateDirectory(Path.Combine(Root, "openai")).FullName;
        AnthropicDir = Directory.CreateDirectory(Path.Combine(Root, "anthropic")).FullName;
        IdsDir = Directory.CreateDirectory(Path.Combine(Root, "ids")).FullName;
        TempDir = Directory.CreateDirectory(Path.Combine(Root, "tmp")).FullName;
        foreach (var stale in Directory.EnumerateFiles(TempDir))
        {
            File.Delete(stale);
        }
        Load();
    }

    public string Root { get; }

    public string FilesDir { get; }

    public string OpenAIDir { get; }

    public string AnthropicDir { get; }

    public string IdsDir { get; }

    public string TempDir { get; }

    public ConcurrentDictionary<string, FileRecord> Files { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, OpenAIBatchRecord> OpenAIBatches { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, AnthropicBatchRecord> AnthropicBatches { get; } = new(StringComparer.Ordinal);

    public long NextSeq() => Interlocked.Increment(ref _seq);

    public string FileDataPath(string fileId) => Path.Combine(FilesDir, fileId + ".data");

    public string CustomIdsPath(string batchId) => Path.Combine(IdsDir, batchId + ".ids");

    public string AnthropicRequestsPath(string batchId) => Path.Combine(AnthropicDir, batchId + ".requests.jsonl");

    public string AnthropicResultsPath(string batchId) => Path.Combine(AnthropicDir, batchId + ".results.jsonl");

    public string NewTempPath() => Path.Combine(TempDir, Guid.NewGuid().ToString("N") + ".tmp");

    public void Save(FileRecord file) => Write(Path.Combine(FilesDir, file.Id + ".json"), file, StoreJsonContext.Default.FileRecord);

    public void Save(OpenAIBatchRecord batch) => Write(Path.Combine(OpenAIDir, batch.Id + ".json"), batch, StoreJsonContext.Default.OpenAIBatchRecord);

    public void Save(AnthropicBatchRecord batch) => Write(Path.Combine(AnthropicDir, batch.Id + ".json"), batch, StoreJsonContext.Default.AnthropicBatchRecord);

    public bool DeleteFile(string fileId)
    {
        if (!Files.TryRemove(fileId, out _))
        {
            return false;
        }
        File.Delete(Path.Combine(FilesDir, fileId + ".json"));
        File.Delete(FileDataPath(fileId));
        return true;
    }

    /// <summary>True the first time a (provider, custom id) failure is recorded; persisted.</summary>
    public bool TryRecordFirstAttemptFailure(string provider, string customId)
    {
        var key = Infrastructure.StableHash.Of(customId, Infrastructure.StableHash.Of(provider));
        lock (_firstAttemptLock)
        {
            if (!_firstAttemptFailures.Add(key))
            {
                return false;
            }
            File.AppendAllText(Path.Combine(Root, "first-attempt-failures.txt"), key.ToString("x16", CultureInfo.InvariantCulture) + "\n");
            return true;
        }
    }

    public bool HasFailedBefore(string provider, string customId)
    {
        var key = Infrastructure.StableHash.Of(customId, Infrastructure.StableHash.Of(provider));
        lock (_firstAttemptLock)
        {
            return _firstAttemptFailures.Contains(key);
        }
    }

    public void Dispose()
    {
        if (_deleteOnDispose)
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // A download still streaming on another thread may hold a file open; the OS temp cleaner gets it.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private void Load()
    {
        foreach (var path in Directory.EnumerateFiles(FilesDir, "*.json"))
        {
            if (Read(path, StoreJsonContext.Default.FileRecord) is { } f && File.Exists(FileDataPath(f.Id)))
            {
                Files[f.Id] = f;
                BumpSeq(f.Seq);
            }
        }
        foreach (var path in Directory.EnumerateFiles(OpenAIDir, "*.json"))
        {
            if (Read(path, StoreJsonContext.Default.OpenAIBatchRecord) is { } b)
            {
                OpenAIBatches[b.Id] = b;
                BumpSeq(b.Seq);
            }
        }
        foreach (var path in Directory.EnumerateFiles(AnthropicDir, "*.json"))
        {
            if (Read(path, StoreJsonContext.Default.AnthropicBatchRecord) is { } b)
            {
                AnthropicBatches[b.Id] = b;
                BumpSeq(b.Seq);
            }
        }
        var failures = Path.Combine(Root, "first-attempt-failures.txt");
        if (File.Exists(failures))
        {
            foreach (var line in File.ReadLines(failures))
            {
                if (ulong.TryParse(line, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var key))
                {
                    _firstAttemptFailures.Add(key);
                }
            }
        }
    }

    private void BumpSeq(long seq)
    {
        if (seq > _seq)
        {
            _seq = seq;
        }
    }

    private static T? Read<T>(string path, JsonTypeInfo<T> type) where T : class
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize(stream, type);
        }
        catch (JsonException)
        {
            return null; // a record half-written by a killed process; the temp+move below makes this rare
        }
    }

    private void Write<T>(string path, T value, JsonTypeInfo<T> type)
    {
        var temp = NewTempPath();
        using (var stream = File.Create(temp))
        {
            JsonSerializer.Serialize(stream, value, type);
        }
        File.Move(temp, path, overwrite: true);
    }
}
