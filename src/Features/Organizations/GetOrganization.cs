using Dapper;
using Npgsql;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

public static class GetOrganization
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{orgId:guid}", Handle).WithName("GetOrganization").WithSummary("Get an organization").RequireOrgRole(OrgRole.Viewer);

    public static async Task<Ok<OrganizationResponse>> Handle(Guid orgId, HttpContext context, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var membership = OrgMembership.From(context);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<Row>(new CommandDefinition(
            "SELECT id, name, created_at AS CreatedAt, updated_at AS UpdatedAt FROM organizations WHERE id = @orgId",
            new { orgId }, cancellationToken: cancellationToken));
        return TypedResults.Ok(new OrganizationResponse(row.Id, row.Name, membership.Role.ToName(), row.CreatedAt, row.UpdatedAt));
    }

    private sealed record Row(Guid Id, string Name, DateTime CreatedAt, DateTime UpdatedAt);
}
