using Microsoft.Extensions.Configuration;

namespace Service.Infrastructure.Settings;

/// <summary>
/// Turns a set of variables (the process environment, or a .env file) into configuration keys: the flat
/// names (SECRET_KEY, DATABASE_URL, ...) map onto their nested keys; with <c>includeNested</c>, "A__B" maps to "A:B"
/// as the framework does for real environment variables.
/// </summary>
public sealed class FlatSettingsConfigurationSource(Func<IReadOnlyDictionary<string, string>> read, bool includeNested)
    : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new Provider(read, includeNested);

    private sealed class Provider(Func<IReadOnlyDictionary<string, string>> read, bool includeNested) : ConfigurationProvider
    {
        public override void Load()
        {
            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, value) in read())
            {
                if (FlatSettingNames.ToConfigKey.TryGetValue(name, out var key)) data[key] = value;
                else if (includeNested && name.Contains("__", StringComparison.Ordinal)) data[name.Replace("__", ":")] = value;
            }
            Data = data;
        }
    }

    public static IReadOnlyDictionary<string, string> ProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        return result;
    }
}
