namespace Service.Infrastructure.FeatureFlags;

/// <summary>A flag as operators see it, the same through the admin API and `features list --json`.</summary>
public sealed record FeatureFlagResponse(
    string Name,
    string Description,
    string Kind,
    bool Enabled,
    string Source,
    bool SafeDefault,
    FeatureTargeting? Targeting,
    FeatureFlagLastChange? LastChange)
{
    public static FeatureFlagResponse From(FeatureFlagState state) => new(
        state.Flag.Name,
        state.Flag.Description,
        state.Flag.KindName,
        state.Enabled,
        state.Source,
        state.Flag.SafeDefault,
        state.Targeting,
        state.Stored is { } stored ? new FeatureFlagLastChange(stored.Enabled, stored.Targeting, stored.UpdatedBy, stored.UpdatedAt, stored.Reason) : null);
}

/// <summary>The value last written to the database (which an override may be hiding), and who wrote it, when and why.</summary>
public sealed record FeatureFlagLastChange(bool Enabled, FeatureTargeting? Targeting, string By, DateTimeOffset At, string Reason);
