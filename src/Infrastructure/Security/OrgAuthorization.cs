using Dapper;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Service.Infrastructure.Security;

/// <summary>
/// A failure that must look as if the resource did not exist (404), so non-members cannot learn which
/// organizations exist. Other failures of an authenticated caller are 403.
/// </summary>
public sealed class HiddenResourceFailure(IAuthorizationHandler handler, string message) : AuthorizationFailureReason(handler, message);

/// <summary>The caller is a user (not an agent key) with at least <see cref="Minimum"/> in the route's {orgId}.</summary>
public sealed record OrgRoleRequirement(OrgRole Minimum) : IAuthorizationRequirement;

/// <summary>The caller may push data into the route's {orgId}: an agent key of that org with "ingest", or a member.</summary>
public sealed record OrgIngestRequirement : IAuthorizationRequirement;

/// <summary>The caller is an operator: a user whose email is in ADMIN_EMAILS.</summary>
public sealed record OpsRequirement : IAuthorizationRequirement;

/// <summary>The caller is a signed-in user, not an agent key.</summary>
public sealed record UserRequirement : IAuthorizationRequirement;

public sealed class OrgAuthorizationHandler(NpgsqlDataSource dataSource, IOptionsMonitor<AuthOptions> auth)
    : IAuthorizationHandler
{
    public async Task HandleAsync(AuthorizationHandlerContext context)
    {
        foreach (var requirement in context.PendingRequirements.ToList())
        {
            switch (requirement)
            {
                case UserRequirement:
                    if (context.User.UserId() is not null) context.Succeed(requirement);
                    else context.Fail(new AuthorizationFailureReason(this, "agent keys may only push events and uploads"));
                    break;
                case OpsRequirement:
                    if (context.User.UserId() is not null && auth.CurrentValue.IsAdminEmail(context.User.FindFirst(PrincipalClaims.Email)?.Value)) context.Succeed(requirement);
                    else context.Fail(new AuthorizationFailureReason(this, "operators only"));
                    break;
                case OrgRoleRequirement role:
                    await HandleOrgRoleAsync(context, role, role.Minimum);
                    break;
                case OrgIngestRequirement ingest:
                    if (context.User.IsApiKey())
                    {
                        var orgId = RouteOrgId(context);
                        if (orgId is null || context.User.ApiKeyOrg() != orgId) context.Fail(new HiddenResourceFailure(this, "key belongs to another organization"));
                        else if (!context.User.HasClaim(PrincipalClaims.Permission, PrincipalClaims.IngestPermission)) context.Fail(new AuthorizationFailureReason(this, "key lacks ingest"));
                        else context.Succeed(ingest);
                    }
                    else
                    {
                        await HandleOrgRoleAsync(context, ingest, OrgRole.Member);
                    }
                    break;
            }
        }
    }

    private async Task HandleOrgRoleAsync(AuthorizationHandlerContext context, IAuthorizationRequirement requirement, OrgRole minimum)
    {
        if (context.User.UserId() is not { } userId)
        {
            context.Fail(new AuthorizationFailureReason(this, "agent keys may only push events and uploads"));
            return;
        }
        var http = context.Resource as HttpContext;
        var orgId = RouteOrgId(context);
        var role = orgId is null ? null : await FindRoleAsync(orgId.Value, userId, http?.RequestAborted ?? default);
        if (role is null)
        {
            context.Fail(new HiddenResourceFailure(this, "not a member"));
            return;
        }
        if (http is not null) new OrgMembership(orgId!.Value, userId, role.Value).Store(http);
        if (role >= minimum) context.Succeed(requirement);
        else context.Fail(new AuthorizationFailureReason(this, $"requires {minimum.ToName()}"));
    }

    private async Task<OrgRole?> FindRoleAsync(Guid orgId, Guid userId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var role = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition("""
            SELECT m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
            WHERE m.org_id = @orgId AND m.user_id = @userId AND o.deleted_at IS NULL
            """, new { orgId, userId }, cancellationToken: cancellationToken));
        return OrgRoles.Parse(role);
    }

    private static Guid? RouteOrgId(AuthorizationHandlerContext context) =>
        context.Resource is HttpContext http && Guid.TryParse(http.GetRouteValue("orgId") as string, out var id) ? id : null;
}
