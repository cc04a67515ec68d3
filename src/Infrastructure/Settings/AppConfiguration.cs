using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace Service.Infrastructure.Settings;

/// <summary>
/// Where settings come from, lowest to highest precedence: appsettings.json, appsettings.{Environment}.json,
/// a .env file in the working directory (Development only), environment variables (nested "A__B" names, then
/// the flat names), command-line arguments.
/// </summary>
public static class AppConfiguration
{
    /// <summary>ENVIRONMENT picks the host environment when ASPNETCORE_ENVIRONMENT / DOTNET_ENVIRONMENT are unset.</summary>
    public static WebApplicationOptions CreateOptions(string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        environment ??= FlatSettingsConfigurationSource.ProcessEnvironment();
        var explicitName = Get(environment, "ASPNETCORE_ENVIRONMENT") ?? Get(environment, "DOTNET_ENVIRONMENT");
        var flat = Get(environment, "ENVIRONMENT");
        return new WebApplicationOptions
        {
            Args = args,
            EnvironmentName = explicitName is null && flat is not null ? NormalizeEnvironmentName(flat) : null,
        };
    }

    public static string NormalizeEnvironmentName(string value) => value.Trim().ToLowerInvariant() switch
    {
        "production" or "prod" => Environments.Production,
        "development" or "dev" => Environments.Development,
        "staging" or "stage" => Environments.Staging,
        var other => char.ToUpperInvariant(other[0]) + other[1..],
    };

    public static void AddFlatSettings(
        IConfigurationManager configuration,
        IHostEnvironment environment,
        Func<IReadOnlyDictionary<string, string>>? readEnvironment = null,
        string? dotEnvPath = null)
    {
        readEnvironment ??= FlatSettingsConfigurationSource.ProcessEnvironment;
        dotEnvPath ??= Path.Combine(Directory.GetCurrentDirectory(), ".env");
        var sources = configuration.Sources;

        // Real environment variables win over .env, so .env goes just before the first (unprefixed) env source.
        var envIndex = IndexOfUnprefixedEnvironmentSource(sources);
        var insertAt = envIndex >= 0 ? envIndex : sources.Count;
        if (environment.IsDevelopment())
        {
            sources.Insert(insertAt, new FlatSettingsConfigurationSource(() => DotEnvFile.Read(dotEnvPath), includeNested: true));
            insertAt++;
        }

        // Flat names go after the nested environment variables, before the command line.
        var after = envIndex >= 0 ? insertAt + 1 : sources.Count;
        sources.Insert(Math.Min(after, sources.Count), new FlatSettingsConfigurationSource(readEnvironment, includeNested: false));
    }

    private static int IndexOfUnprefixedEnvironmentSource(IList<IConfigurationSource> sources)
    {
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is EnvironmentVariablesConfigurationSource { Prefix: null or "" }) return i;
        }
        return -1;
    }

    private static string? Get(IReadOnlyDictionary<string, string> environment, string name) =>
        environment.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;
}
