using System.Security.Claims;
using Amazon.S3;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Security;
using Service.Infrastructure.Storage;

namespace Service.Features.Account;

/// <summary>
/// Everything stored about the caller, as a ZIP of JSON files streamed while it is read: profile, memberships, sign-in
/// sessions (no token material), the events they sent, their uploads (with download links), their notifications, and
/// the audit entries where they are the actor or the target. Audited before the first byte; rate limited.
/// </summary>
public static class ExportAccount
{
    public static readonly TimeSpan DownloadLinkLifetime = TimeSpan.FromHours(24);

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/export", Handle)
            .WithName("ExportAccount")
            .WithSummary("Download everything stored about you as a ZIP of JSON files")
            .RequireRateLimit(RateLimitPolicies.Exports)
            .Produces(StatusCodes.Status200OK, contentType: "application/zip")
            .ProducesProblem(StatusCodes.Status404NotFound);

    public static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> Handle(ClaimsPrincipal principal, NpgsqlDataSource dataSource, AuditLog audit,
        IAmazonS3 s3, IOptions<StorageOptions> storage, TimeProvider time, CancellationToken cancellationToken)
    {
        var userId = principal.RequiredUserId();
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            var exists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT EXISTS (SELECT 1 FROM users WHERE id = @userId AND deleted_at IS NULL)", new { userId }, cancellationToken: cancellationToken));
            if (!exists) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: "This account no longer exists.");
            await audit.WriteAsync(connection, null, new AuditEntry("user", userId.ToString(), null, "account.exported", "user", userId.ToString()), cancellationToken);
        }

        var now = time.GetUtcNow();
        var linksExpire = now + DownloadLinkLifetime;
        return TypedResults.Stream(async body =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await ExportArchive.WriteAsync(body, connection, async archive =>
            {
                await archive.TextAsync("README.txt", Readme(now, linksExpire));
                await archive.RowsAsync("profile.json", """
                    SELECT id, email, display_name AS "displayName", created_at AS "createdAt", updated_at AS "updatedAt",
                           failed_login_count AS "failedSignInAttempts", locked_until AS "lockedUntil"
                    FROM users WHERE id = $1
                    """, userId, single: true);
                await archive.RowsAsync("memberships.json", """
                    SELECT o.id AS "orgId", o.name AS "orgName", m.role, m.created_at AS "joinedAt", o.deleted_at AS "orgDeletedAt"
                    FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY m.created_at
                    """, userId);
                await archive.RowsAsync("sessions.json", """
                    SELECT family_id AS "sessionId", min(created_at) AS "startedAt", max(created_at) AS "lastRefreshedAt", max(expires_at) AS "expiresAt",
                           max(revoked_at) AS "revokedAt", bool_or(consumed_at IS NULL AND revoked_at IS NULL AND expires_at > now()) AS "active"
                    FROM refresh_tokens WHERE user_id = $1 GROUP BY family_id ORDER BY min(created_at)
                    """, userId);
                // Per organization through the (org_id, source_id, occurred_at) index: events have no index on the source alone.
                await archive.RowsAsync("events.json", """
                    SELECT e.id, e.org_id AS "orgId", e.type, e.occurred_at AS "occurredAt", e.received_at AS "receivedAt", e.path, e.tool,
                           e.duration_ms AS "durationMs", e.metadata, e.client_event_id AS "clientEventId"
                    FROM organizations o CROSS JOIN LATERAL (
                        SELECT * FROM events e WHERE e.org_id = o.id AND e.source_id = $1 AND e.source_type = 'user' ORDER BY e.occurred_at, e.id) e
                    ORDER BY o.id
                    """, userId);
                await archive.RowsAsync("uploads.json", """
                    SELECT id, org_id AS "orgId", file_name AS "fileName", content_type AS "contentType", size_bytes AS "sizeBytes", sha256, status,
                           created_at AS "createdAt", completed_at AS "completedAt", deleted_at AS "deletedAt", storage_key AS "storageKey"
                    FROM uploads WHERE uploader_type = 'user' AND uploader_id = $1 ORDER BY created_at
                    """, userId, hidden: ["storageKey"], extra: async (row, writer) =>
                    {
                        var ready = row.GetString(row.GetOrdinal("status")) == "ready";
                        writer.WriteString("downloadUrl", ready
                            ? await DownloadLinks.PresignAsync(s3, storage.Value, row.GetString(row.GetOrdinal("storageKey")), row.GetString(row.GetOrdinal("fileName")),
                                row.GetString(row.GetOrdinal("contentType")), linksExpire)
                            : null);
                    });
                await archive.RowsAsync("notifications.json", """
                    SELECT id, org_id AS "orgId", type, title, body, data, created_at AS "createdAt", read_at AS "readAt"
                    FROM notifications WHERE user_id = $1 ORDER BY id
                    """, userId);
                await archive.RowsAsync("audit.json", """
                    SELECT id, occurred_at AS "occurredAt", actor_type AS "actorType", actor_id AS "actorId", org_id AS "orgId", action,
                           target_type AS "targetType", target_id AS "targetId", data
                    FROM audit_log WHERE (actor_type = 'user' AND actor_id = $1::text) OR (target_type = 'user' AND target_id = $1::text) ORDER BY id
                    """, userId);
            }, cancellationToken);
        }, "application/zip", $"account-export-{now:yyyy-MM-dd}.zip");
    }

    private static string Readme(DateTimeOffset now, DateTimeOffset linksExpire) => $"""
        Everything this service stores about you, exported {now:O}.

        profile.json        your account
        memberships.json    the organizations you belong to and your role in each
        sessions.json       your sign-in sessions (when they started, were last refreshed, expire; no tokens)
        events.json         the file-usage events you sent, in the form they were stored (after your organization's privacy policy)
        uploads.json        the files you uploaded; downloadUrl works until {linksExpire:O}
        notifications.json  the notifications you received
        audit.json          the audit entries where you are the actor or the subject

        Events sent by an organization's agent keys belong to the organization and are not part of this export.
        """;
}
