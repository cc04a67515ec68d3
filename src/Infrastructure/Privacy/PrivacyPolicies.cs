using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using Service.Infrastructure.Secrets;

namespace Service.Infrastructure.Privacy;

/// <summary>
/// Reads an organization's policy in the caller's connection (so a change is obeyed by every instance from its
/// commit on) and keeps the compiled form per organization until the stored version moves.
/// </summary>
public sealed class PrivacyPolicies(SecretBox secrets)
{
    private const int MaxCachedOrganizations = 10_000;
    private readonly ConcurrentDictionary<Guid, PrivacyPolicy> _compiled = new();

    public async Task<PrivacyPolicy> GetAsync(DbConnection connection, DbTransaction? transaction, Guid orgId, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<PolicyRow>(new CommandDefinition("""
            SELECT path_mode AS PathMode, hash_file_names AS HashFileNames, exclude_globs AS ExcludeGlobs, drop_metadata_keys AS DropMetadataKeys,
                   retention_days AS RetentionDays, departed_user_events AS DepartedUserEvents, path_key AS PathKey, version
            FROM privacy_policies WHERE org_id = @orgId
            """, new { orgId }, transaction, cancellationToken: cancellationToken));
        if (row is null) return PrivacyPolicy.Default;
        if (_compiled.TryGetValue(orgId, out var cached) && cached.Version == row.Version) return cached;

        var policy = new PrivacyPolicy(row.ToSettings(), row.Version, secrets.Open(row.PathKey, KeyContext(orgId)));
        if (_compiled.Count >= MaxCachedOrganizations) _compiled.Clear();
        _compiled[orgId] = policy;
        return policy;
    }

    /// <summary>
    /// The organization's hash_dirs key, derived from ENCRYPTION_KEY and the organization's id (two instances writing
    /// the first policy at once derive the same key) and stored sealed, so rotating ENCRYPTION_KEY re-seals it
    /// (`secrets rotate`) instead of changing every hash.
    /// </summary>
    public (byte[] Sealed, string KeyId) NewPathKey(Guid orgId) =>
        (secrets.Seal(secrets.DeriveKey("service.privacy.path-hash.v1", orgId.ToByteArray()), KeyContext(orgId)), secrets.CurrentKeyId);

    public static string KeyContext(Guid orgId) => $"privacy:{orgId}";

    // A class, not a positional record: Dapper matches constructors by exact column type, and text[] columns read as Array.
    private sealed class PolicyRow
    {
        public required string PathMode { get; init; }
        public bool HashFileNames { get; init; }
        public required string[] ExcludeGlobs { get; init; }
        public required string[] DropMetadataKeys { get; init; }
        public int? RetentionDays { get; init; }
        public required string DepartedUserEvents { get; init; }
        public required byte[] PathKey { get; init; }
        public int Version { get; init; }

        public PrivacySettings ToSettings() => new(PathMode, HashFileNames, ExcludeGlobs, DropMetadataKeys, RetentionDays, DepartedUserEvents);
    }
}
