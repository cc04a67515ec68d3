using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Streaming;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

public sealed record ChangeMemberRoleRequest([property: Required, AllowedValues("owner", "admin", "member", "viewer")] string Role);

/// <summary>Admins manage roles up to admin; owners' roles, and the owner role itself, are for owners only. The last owner stays.</summary>
public static class ChangeMemberRole
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPatch("/{userId:guid}", Handle)
            .WithName("ChangeMemberRole")
            .WithSummary("Change a member's role")
            .RequireOrgRole(OrgRole.Admin)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

    public static async Task<Results<Ok<MemberResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid userId, ChangeMemberRoleRequest request, ClaimsPrincipal user, HttpContext context,
        NpgsqlDataSource dataSource, AuditLog audit, Notifier notifier, CancellationToken cancellationToken)
    {
        var newRole = OrgRoles.Parse(request.Role)!.Value;
        var callerIsOwner = OrgMembership.From(context).Role == OrgRole.Owner;

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var owners = await Ownership.LockAndCountOwnersAsync(connection, transaction, orgId, cancellationToken);
        var member = await connection.QuerySingleOrDefaultAsync<MemberRow>(new CommandDefinition("""
            SELECT u.id AS UserId, u.email, u.display_name AS DisplayName, m.role, m.created_at AS JoinedAt
            FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = @orgId AND m.user_id = @userId
            """, new { orgId, userId }, transaction, cancellationToken: cancellationToken));
        if (member is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not a member");

        var oldRole = OrgRoles.Parse(member.Role)!.Value;
        if (!callerIsOwner && (newRole == OrgRole.Owner || oldRole == OrgRole.Owner))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "Only owners can grant or change the owner role.");
        }
        if (oldRole == OrgRole.Owner && newRole != OrgRole.Owner && owners <= 1) return Ownership.LastOwner();

        IReadOnlyList<StreamEvent> notice = [];
        if (oldRole != newRole)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE memberships SET role = @role, updated_at = now() WHERE org_id = @orgId AND user_id = @userId",
                new { orgId, userId, role = newRole.ToName() }, transaction, cancellationToken: cancellationToken));
            await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "member.role_changed", "user", userId.ToString(),
                new { from = oldRole.ToName(), to = newRole.ToName() }), cancellationToken);
            var orgName = await Notices.OrgNameAsync(connection, transaction, orgId, cancellationToken);
            notice = await notifier.NotifyAsync(connection, transaction, [userId], orgId, new NotificationDraft(MembershipNotices.RoleChanged,
                $"Your role in {orgName} changed", $"You are now {Notices.Article(newRole.ToName())} {newRole.ToName()} of {orgName} (was {oldRole.ToName()}).",
                new { orgName, from = oldRole.ToName(), to = newRole.ToName() }), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        await notifier.PublishAsync(notice);
        return TypedResults.Ok(new MemberResponse(member.UserId, member.Email, member.DisplayName, newRole.ToName(), member.JoinedAt));
    }

    private sealed record MemberRow(Guid UserId, string Email, string DisplayName, string Role, DateTime JoinedAt);
}
