using Service.Infrastructure.Privacy;

namespace Service.Features.Privacy;

/// <param name="RetentionDays">The organization's own retention; null keeps events for the service-wide maximum.</param>
/// <param name="EffectiveRetentionDays">How long events are kept, whichever of the two applies.</param>
/// <param name="DepartedUserEvents">What happens to a member's events when they delete their account: delete or anonymize.</param>
/// <param name="Version">0 until an admin first writes the policy (the defaults apply).</param>
/// <param name="AppliesTo">What a change affects: events received after it; stored events keep their form, retention covers all.</param>
public sealed record PrivacyPolicyResponse(string PathMode, bool HashFileNames, IReadOnlyList<string> ExcludeGlobs, IReadOnlyList<string> DropMetadataKeys,
    int? RetentionDays, int EffectiveRetentionDays, string DepartedUserEvents, int Version, DateTimeOffset? UpdatedAt, string AppliesTo);

internal static class Policy
{
    public static PrivacyPolicyResponse ToResponse(PrivacySettings settings, int version, DateTime? updatedAt, int serviceRetentionDays)
    {
        var at = updatedAt is { } u ? new DateTimeOffset(DateTime.SpecifyKind(u, DateTimeKind.Utc)) : (DateTimeOffset?)null;
        var appliesTo = (at is null ? "The defaults apply" : $"Applies to events received from {at:O} on") +
            ": path handling, exclusions and metadata removal act at intake, so events stored before keep the form they were stored in. " +
            "Retention covers every stored event from the next retention run.";
        return new PrivacyPolicyResponse(settings.PathMode, settings.HashFileNames, settings.ExcludeGlobs, settings.DropMetadataKeys, settings.RetentionDays,
            Math.Min(settings.RetentionDays ?? serviceRetentionDays, serviceRetentionDays), settings.DepartedUserEvents, version, at, appliesTo);
    }
}
