using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Streaming;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

/// <summary>
/// Soft delete: every org-scoped route answers 404 from now on, and the org's agent keys stop working. The other
/// members are told (a membership.removed notice, so their streams stop carrying the org's events at once).
/// </summary>
public static class DeleteOrganization
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/{orgId:guid}", Handle)
            .WithName("DeleteOrganization")
            .WithSummary("Delete an organization")
            .RequireOrgRole(OrgRole.Owner);

    public static async Task<NoContent> Handle(Guid orgId, ClaimsPrincipal user, NpgsqlDataSource dataSource, AuditLog audit, Notifier notifier, CancellationToken cancellationToken)
    {
        var actorId = user.RequiredUserId();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var name = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "UPDATE organizations SET deleted_at = now(), updated_at = now() WHERE id = @orgId AND deleted_at IS NULL RETURNING name",
            new { orgId }, transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", actorId.ToString(), orgId, "org.deleted", "organization", orgId.ToString()), cancellationToken);
        IReadOnlyList<StreamEvent> notice = [];
        if (name is not null)
        {
            var members = (await connection.QueryAsync<Guid>(new CommandDefinition(
                "SELECT user_id FROM memberships WHERE org_id = @orgId AND user_id <> @actorId", new { orgId, actorId }, transaction, cancellationToken: cancellationToken))).ToList();
            notice = await notifier.NotifyAsync(connection, transaction, members, orgId, new NotificationDraft(MembershipNotices.Removed,
                $"{name} was deleted", $"{name} was deleted by {user.FindFirstValue(PrincipalClaims.Email) ?? "an owner"}; you no longer have access to it.",
                new { orgName = name, deleted = true }), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        await notifier.PublishAsync(notice);
        return TypedResults.NoContent();
    }
}
