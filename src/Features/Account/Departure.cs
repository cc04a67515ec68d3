using System.Data.Common;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Patterns;
using Service.Infrastructure.Privacy;

namespace Service.Features.Account;

/// <summary>What leaving an organization with a deleted account does there, and who may not leave yet.</summary>
internal static class Departure
{
    /// <summary>One organization: membership gone, the caller's events and the pattern data built from them deleted or anonymized.</summary>
    public static async Task<object> LeaveAsync(NpgsqlConnection connection, DbTransaction transaction, AuditLog audit, Guid userId, Guid orgId,
        CancellationToken cancellationToken)
    {
        var handling = (await StoredPrivacyPolicy.FindAsync(connection, transaction, orgId, forUpdate: false, cancellationToken))?.DepartedUserEvents
            ?? PrivacySettings.Default.DepartedUserEvents;
        // A detection run of this organization reads the same sessions: wait for it rather than race it.
        await PatternDetection.LockAsync(connection, transaction, orgId, cancellationToken);
        var anonymousId = Guid.NewGuid();
        var events = await connection.ExecuteAsync(new CommandDefinition(handling == DepartedUserEvents.Anonymize
            ? """
              UPDATE events SET source_id = @anonymousId, client_event_id = NULL, metadata = NULL,
                  path = CASE WHEN path ~ '^[A-Za-z]:[\\/]([Uu]sers|Documents and Settings)[\\/][^\\/]+'
                      THEN '~' || replace(regexp_replace(path, '^[A-Za-z]:[\\/]([Uu]sers|Documents and Settings)[\\/][^\\/]+', ''), '\', '/')
                      ELSE regexp_replace(path, '^(/home/[^/]+|/Users/[^/]+|/root)(?=/|$)', '~') END
              WHERE org_id = @orgId AND source_id = @userId AND source_type = 'user'
              """
            : "DELETE FROM events WHERE org_id = @orgId AND source_id = @userId AND source_type = 'user'",
            new { orgId, userId, anonymousId }, transaction, cancellationToken: cancellationToken, commandTimeout: 0));
        await connection.ExecuteAsync(new CommandDefinition($"""
            DELETE FROM pattern_sessions WHERE org_id = @orgId AND source_id = @userId;
            DELETE FROM pattern_sources WHERE org_id = @orgId AND source_id = @userId;
            UPDATE patterns SET source_id = {(handling == DepartedUserEvents.Anonymize ? "@anonymousId" : "NULL")} WHERE org_id = @orgId AND source_id = @userId;
            {(handling == DepartedUserEvents.Anonymize
                ? "UPDATE event_rollup_sources SET source_id = @anonymousId WHERE org_id = @orgId AND source_id = @userId;"
                : "DELETE FROM event_rollup_sources WHERE org_id = @orgId AND source_id = @userId;")}
            DELETE FROM memberships WHERE org_id = @orgId AND user_id = @userId;
            """, new { orgId, userId, anonymousId }, transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "member.account_deleted", "user", userId.ToString(),
            new { events, handling }), cancellationToken);
        return new { orgId, events, handling };
    }

    /// <summary>Organizations (not deleted) where the caller is an owner and no other owner remains; one organization only when given.</summary>
    public static async Task<List<(Guid Id, string Name)>> LastOwnedAsync(DbConnection connection, DbTransaction? transaction, Guid userId, Guid? orgId,
        CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(Guid, string)>(new CommandDefinition("""
            SELECT o.id, o.name FROM memberships m JOIN organizations o ON o.id = m.org_id
            WHERE m.user_id = @userId AND m.role = 'owner' AND o.deleted_at IS NULL AND (@orgId::uuid IS NULL OR o.id = @orgId)
              AND NOT EXISTS (SELECT 1 FROM memberships other WHERE other.org_id = m.org_id AND other.role = 'owner' AND other.user_id <> @userId)
            ORDER BY o.name, o.id
            """, new { userId, orgId }, transaction, cancellationToken: cancellationToken))).AsList();
}
