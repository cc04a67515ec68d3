using Microsoft.FeatureManagement;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>
/// Feeds FeatureManagement the catalogue's flags: a value forced by FeatureFlags:Overrides:{Name} wins, then the
/// FeatureManagement configuration section, then the flag's safe default. Undeclared flags do not exist.
/// </summary>
public sealed class CatalogFeatureDefinitionProvider(IConfiguration configuration) : IFeatureDefinitionProvider
{
    public const string OverridesSection = "FeatureFlags:Overrides";

    private readonly ConfigurationFeatureDefinitionProvider _configured = new(configuration.GetSection("FeatureManagement"));

    public async Task<FeatureDefinition?> GetFeatureDefinitionAsync(string featureName)
    {
        var flag = FeatureFlagCatalog.Find(featureName);
        if (flag is null) return null;
        if (Forced(flag) is { } forced) return Definition(flag, forced);
        return await _configured.GetFeatureDefinitionAsync(flag.Name) ?? Definition(flag, flag.SafeDefault);
    }

    public async IAsyncEnumerable<FeatureDefinition> GetAllFeatureDefinitionsAsync()
    {
        foreach (var flag in FeatureFlagCatalog.All)
        {
            yield return (await GetFeatureDefinitionAsync(flag.Name))!;
        }
    }

    /// <summary>The value configuration forces, if any: the emergency lever that needs neither database nor Redis.</summary>
    public bool? Forced(FeatureFlag flag) => bool.TryParse(configuration[$"{OverridesSection}:{flag.Name}"], out var value) ? value : null;

    private static FeatureDefinition Definition(FeatureFlag flag, bool enabled) => new()
    {
        Name = flag.Name,
        EnabledFor = enabled ? [new FeatureFilterConfiguration { Name = "AlwaysOn" }] : [],
    };
}
