namespace BatchPilot.Cli.Config;

/// <summary>Shows API keys masked, never whole.</summary>
public static class Secrets
{
    /// <summary>Masks a key as <c>sk-proj-ab…wxyz</c>: at most the first 10 and last 4 characters of a long key.</summary>
    public static string Mask(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "(none)";
        }

        if (key.Length >= 24)
        {
            return key[..10] + "…" + key[^4..];
        }

        if (key.Length >= 12)
        {
            return key[..4] + "…" + key[^2..];
        }

        return "…";
    }

    /// <summary>Expected key prefix of a provider; empty when its keys have none (Azure OpenAI keys are bare hex or base62).</summary>
    public static string ExpectedPrefix(string provider) => provider switch
    {
        Providers.ProviderNames.Anthropic => "sk-ant-",
        Providers.ProviderNames.OpenRouter => "sk-or-",
        Providers.ProviderNames.Azure => string.Empty,
        _ => "sk-",
    };
}
