using System.Net;
using System.Text.Json;

namespace BatchPilot.Providers.Http;

/// <summary>Builds HTTP clients for providers and turns error responses into <see cref="ProviderException"/>.</summary>
public static class ProviderHttp
{
    /// <summary>
    /// Creates an HttpClient with the retry handler. <c>HttpClient.Timeout</c> is long (30 min, or <paramref name="timeout"/>:
    /// <see cref="Timeout.InfiniteTimeSpan"/> when the caller bounds every attempt with its own token).
    /// </summary>
    public static HttpClient CreateClient(RetryOptions? retry = null, TimeProvider? time = null, Action<int, TimeSpan, string>? onRetry = null, TimeSpan? timeout = null)
    {
        var socket = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(15),
            AutomaticDecompression = DecompressionMethods.All,
        };
        var handler = new RetryHandler(retry ?? new RetryOptions(), time ?? TimeProvider.System, socket);
        if (onRetry is not null)
        {
            handler.Retrying += onRetry;
        }

        return new HttpClient(handler) { Timeout = timeout ?? TimeSpan.FromMinutes(30) };
    }

    /// <summary>Throws a <see cref="ProviderException"/> for a non-success response, with the provider's message.</summary>
    public static async Task EnsureSuccessAsync(string provider, HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var status = (int)response.StatusCode;
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            body = string.Empty;
        }

        var (code, message) = ParseError(body);
        message ??= string.IsNullOrWhiteSpace(body) ? response.ReasonPhrase ?? "no message" : Truncate(body, 300);
        var auth = status is 401 or 403;
        throw new ProviderException(provider, $"{what} failed: HTTP {status} {code ?? string.Empty}: {message}".Replace("  ", " ", StringComparison.Ordinal), status, code, auth);
    }

    /// <summary>Extracts (code, message) from an OpenAI or Anthropic error body.</summary>
    public static (string? Code, string? Message) ParseError(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return (null, null);
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var err) && err.ValueKind == JsonValueKind.Object)
            {
                var code = Str(err, "code") ?? Str(err, "type");
                return (code, Str(err, "message"));
            }
        }
        catch (JsonException)
        {
        }

        return (null, null);
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string Truncate(string s, int n) => s.Length <= n ? s : s[..n] + "…";

    /// <summary>Wraps a transport failure of a call that may have reached the server.</summary>
    public static ProviderException Transport(string provider, string what, Exception ex, bool mayHaveSucceeded) =>
        new(provider, $"{what} failed: {ex.Message}", mayHaveSucceeded: mayHaveSucceeded, inner: ex);
}
