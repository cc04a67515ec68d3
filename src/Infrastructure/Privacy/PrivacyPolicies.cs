using System.Collections.Concurrent;
using System.Data.Common;
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
        var row = await StoredPrivacyPolicy.FindAsync(connection, transaction, orgId, forUpdate: false, cancellationToken);
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
}
