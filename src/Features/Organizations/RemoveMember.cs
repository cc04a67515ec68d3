using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Streaming;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

/// <summary>Admins remove members (owners only by owners); anyone may leave. The last owner stays.</summary>
public static class RemoveMember
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/{userId:guid}", Handle)
            .WithName("RemoveMember")
            .WithSummary("Remove a member from an organization")
            .RequireOrgRole(OrgRole.Viewer)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

    public static async Task<Results<NoContent, ProblemHttpResult>> Handle(
        Guid orgId, Guid userId, ClaimsPrincipal user, HttpContext context, NpgsqlDataSource dataSource, AuditLog audit, Notifier notifier, CancellationToken cancellationToken)
    {
        var caller = OrgMembership.From(context);
        var leaving = caller.UserId == userId;
        if (!leaving && caller.Role < OrgRole.Admin)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "Only admins and owners remove other members.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var owners = await Ownership.LockAndCountOwnersAsync(connection, transaction, orgId, cancellationToken);
        var role = OrgRoles.Parse(await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT role FROM memberships WHERE org_id = @orgId AND user_id = @userId",
            new { orgId, userId }, transaction, cancellationToken: cancellationToken)));
        if (role is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not a member");
        if (role == OrgRole.Owner && !leaving && caller.Role != OrgRole.Owner)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "Only owners remove owners.");
        }
        if (role == OrgRole.Owner && owners <= 1) return Ownership.LastOwner();

        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM memberships WHERE org_id = @orgId AND user_id = @userId",
            new { orgId, userId }, transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, leaving ? "member.left" : "member.removed",
            "user", userId.ToString(), new { role = role.Value.ToName() }), cancellationToken);
        // Someone who leaves knows it; someone removed is told. Either way their stream stops carrying the org's events.
        IReadOnlyList<StreamEvent> notice = [];
        if (!leaving)
        {
            var orgName = await Notices.OrgNameAsync(connection, transaction, orgId, cancellationToken);
            notice = await notifier.NotifyAsync(connection, transaction, [userId], orgId, new NotificationDraft(MembershipNotices.Removed,
                $"You were removed from {orgName}", $"You no longer have access to {orgName}.", new { orgName }), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        await notifier.PublishAsync(notice);
        return TypedResults.NoContent();
    }
}
