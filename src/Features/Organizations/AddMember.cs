using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Streaming;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

public sealed record AddMemberRequest(
    [property: Required, EmailAddress, StringLength(254)] string Email,
    [property: Required, AllowedValues("owner", "admin", "member", "viewer")] string Role);

/// <summary>Adds an existing user by email. Admins may grant up to admin; only owners grant owner.</summary>
public static class AddMember
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/", Handle)
            .WithName("AddMember")
            .WithSummary("Add a member to an organization")
            .RequireOrgRole(OrgRole.Admin)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

    public static async Task<Results<Created<MemberResponse>, ProblemHttpResult>> Handle(
        Guid orgId, AddMemberRequest request, ClaimsPrincipal user, HttpContext context, NpgsqlDataSource dataSource, AuditLog audit, Notifier notifier, CancellationToken cancellationToken)
    {
        var role = OrgRoles.Parse(request.Role)!.Value;
        if (role == OrgRole.Owner && OrgMembership.From(context).Role != OrgRole.Owner)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "Only owners can grant the owner role.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var target = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            // FOR SHARE: an account being deleted is tombstoned after this commits (and then no longer found), never in between.
            "SELECT id, email, display_name AS DisplayName FROM users WHERE email_normalized = @email AND deleted_at IS NULL FOR SHARE",
            new { email = EmailAddresses.Normalize(request.Email) }, transaction, cancellationToken: cancellationToken));
        if (target is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such user",
                detail: "No account uses this email; ask them to register first.");
        }

        var joinedAt = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition("""
            INSERT INTO memberships (org_id, user_id, role) VALUES (@orgId, @userId, @role)
            ON CONFLICT (org_id, user_id) DO NOTHING
            RETURNING created_at
            """, new { orgId, userId = target.Id, role = role.ToName() }, transaction, cancellationToken: cancellationToken));
        if (joinedAt is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Already a member",
                detail: "This user is already a member; change their role instead.");
        }

        await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "member.added", "user", target.Id.ToString(),
            new { role = role.ToName() }), cancellationToken);
        var orgName = await Notices.OrgNameAsync(connection, transaction, orgId, cancellationToken);
        var notice = await notifier.NotifyAsync(connection, transaction, [target.Id], orgId, new NotificationDraft(MembershipNotices.Added,
            $"You were added to {orgName}", $"You are now {Notices.Article(role.ToName())} {role.ToName()} of {orgName}.", new { orgName, role = role.ToName() }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await notifier.PublishAsync(notice);
        return TypedResults.Created($"/api/v1/orgs/{orgId}/members/{target.Id}",
            new MemberResponse(target.Id, target.Email, target.DisplayName, role.ToName(), joinedAt.Value));
    }

    private sealed record UserRow(Guid Id, string Email, string DisplayName);
}
