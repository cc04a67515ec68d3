namespace Service.Infrastructure.FeatureFlags;

/// <summary>Where a flag's current value comes from, as the admin API and CLI report it.</summary>
public static class FeatureFlagSources
{
    public const string Override = "override";
    public const string Database = "database";
    public const string Default = "default";
}

/// <summary>
/// A flag's effective value and its origin: a configuration override wins, then the database row, then the
/// catalogue's safe default. Targeting applies to enabled release flags whose value comes from the database.
/// </summary>
public sealed record FeatureFlagState(FeatureFlag Flag, bool Enabled, string Source, FeatureTargeting? Targeting, StoredFeatureFlag? Stored)
{
    public static FeatureFlagState Resolve(FeatureFlag flag, StoredFeatureFlag? stored, bool? forced) =>
        forced is { } value ? new(flag, value, FeatureFlagSources.Override, null, stored)
        : stored is not null ? new(flag, stored.Enabled, FeatureFlagSources.Database,
            stored.Enabled && flag.Kind == FeatureKind.Release ? stored.Targeting : null, stored)
        : new(flag, flag.SafeDefault, FeatureFlagSources.Default, null, null);

    /// <summary>Every catalogue flag, in catalogue order; rows of flags the catalogue no longer declares are ignored.</summary>
    public static IReadOnlyList<FeatureFlagState> ResolveAll(IReadOnlyList<StoredFeatureFlag> rows, IReadOnlyDictionary<string, bool> forced) =>
        FeatureFlagCatalog.All
            .Select(flag => Resolve(flag,
                rows.FirstOrDefault(r => string.Equals(r.Name, flag.Name, StringComparison.OrdinalIgnoreCase)),
                forced.TryGetValue(flag.Name, out var value) ? value : null))
            .ToList();
}
