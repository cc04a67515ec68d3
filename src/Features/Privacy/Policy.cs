using System.Data.Common;
using Dapper;
using Service.Infrastructure.Privacy;

namespace Service.Features.Privacy;

/// <param name="RetentionDays">The organization's own retention; null keeps events for the service-wide maximum.</param>
/// <param name="EffectiveRetentionDays">How long events are kept, whichever of the two applies.</param>
/// <param name="DepartedUserEvents">What happens to a member's events when they delete their account: delete or anonymize.</param>
/// <param name="Version">0 until an admin first writes the policy (the defaults apply).</param>
/// <param name="AppliesTo">What a change affects: events received after it; stored events keep their form, retention covers all.</param>
public sealed record PrivacyPolicyResponse(string PathMode, bool HashFileNames, IReadOnlyList<string> ExcludeGlobs, IReadOnlyList<string> DropMetadataKeys,
    int? RetentionDays, int EffectiveRetentionDays, string DepartedUserEvents, int Version, DateTimeOffset? UpdatedAt, string AppliesTo);

// A class, not a positional record: Dapper matches constructors by exact column type, and text[] columns read as Array.
internal sealed class PolicyRow
{
    public required string PathMode { get; init; }
    public bool HashFileNames { get; init; }
    public required string[] ExcludeGlobs { get; init; }
    public required string[] DropMetadataKeys { get; init; }
    public int? RetentionDays { get; init; }
    public required string DepartedUserEvents { get; init; }
    public int Version { get; init; }
    public DateTime UpdatedAt { get; init; }

    public static async Task<PolicyRow?> FindAsync(DbConnection connection, DbTransaction? transaction, Guid orgId, bool forUpdate, CancellationToken cancellationToken) =>
        await connection.QuerySingleOrDefaultAsync<PolicyRow>(new CommandDefinition($"""
            SELECT path_mode AS PathMode, hash_file_names AS HashFileNames, exclude_globs AS ExcludeGlobs, drop_metadata_keys AS DropMetadataKeys,
                   retention_days AS RetentionDays, departed_user_events AS DepartedUserEvents, version, updated_at AS UpdatedAt
            FROM privacy_policies WHERE org_id = @orgId {(forUpdate ? "FOR UPDATE" : "")}
            """, new { orgId }, transaction, cancellationToken: cancellationToken));

    public PrivacySettings ToSettings() => new(PathMode, HashFileNames, ExcludeGlobs, DropMetadataKeys, RetentionDays, DepartedUserEvents);

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
