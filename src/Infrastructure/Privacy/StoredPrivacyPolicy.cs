using System.Data.Common;
using Dapper;

namespace Service.Infrastructure.Privacy;

// A class, not a positional record: Dapper matches constructors by exact column type, and text[] columns read as Array.
/// <summary>An organization's row of privacy_policies: its settings, its sealed path key, its version.</summary>
public sealed class StoredPrivacyPolicy
{
    public required string PathMode { get; init; }
    public bool HashFileNames { get; init; }
    public required string[] ExcludeGlobs { get; init; }
    public required string[] DropMetadataKeys { get; init; }
    public int? RetentionDays { get; init; }
    public required string DepartedUserEvents { get; init; }
    public required byte[] PathKey { get; init; }
    public int Version { get; init; }
    public DateTime UpdatedAt { get; init; }

    public PrivacySettings ToSettings() => new(PathMode, HashFileNames, ExcludeGlobs, DropMetadataKeys, RetentionDays, DepartedUserEvents);

    /// <summary>The organization's policy; null while it has none (the defaults apply). With forUpdate, the row stays locked until the transaction ends.</summary>
    public static Task<StoredPrivacyPolicy?> FindAsync(DbConnection connection, DbTransaction? transaction, Guid orgId, bool forUpdate, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<StoredPrivacyPolicy>(new CommandDefinition($"""
            SELECT path_mode AS PathMode, hash_file_names AS HashFileNames, exclude_globs AS ExcludeGlobs, drop_metadata_keys AS DropMetadataKeys,
                   retention_days AS RetentionDays, departed_user_events AS DepartedUserEvents, path_key AS PathKey, version, updated_at AS UpdatedAt
            FROM privacy_policies WHERE org_id = @orgId {(forUpdate ? "FOR UPDATE" : "")}
            """, new { orgId }, transaction, cancellationToken: cancellationToken));
}
