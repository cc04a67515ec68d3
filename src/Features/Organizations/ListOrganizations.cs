using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

public sealed record OrganizationListResponse(IReadOnlyList<OrganizationResponse> Items);

/// <summary>The caller's organizations with their role in each (a user belongs to a handful: no pagination).</summary>
public static class ListOrganizations
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListOrganizations")
            .WithSummary("List the caller's organizations")
            .RequireAuthorization(AuthPolicies.User);

    public static async Task<Ok<OrganizationListResponse>> Handle(ClaimsPrincipal user, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            SELECT o.id, o.name, m.role, o.created_at AS CreatedAt, o.updated_at AS UpdatedAt
            FROM memberships m JOIN organizations o ON o.id = m.org_id
            WHERE m.user_id = @userId AND o.deleted_at IS NULL
            ORDER BY o.name, o.id
            """, new { userId = user.RequiredUserId() }, cancellationToken: cancellationToken));
        return TypedResults.Ok(new OrganizationListResponse(rows.Select(r => new OrganizationResponse(r.Id, r.Name, r.Role, r.CreatedAt, r.UpdatedAt)).ToList()));
    }

    private sealed record Row(Guid Id, string Name, string Role, DateTime CreatedAt, DateTime UpdatedAt);
}
