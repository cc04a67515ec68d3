using Dapper;
using Npgsql;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

public sealed record MemberListResponse(IReadOnlyList<MemberResponse> Items);

public static class ListMembers
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle).WithName("ListMembers").WithSummary("List an organization's members").RequireOrgRole(OrgRole.Viewer);

    public static async Task<Ok<MemberListResponse>> Handle(Guid orgId, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            SELECT u.id AS UserId, u.email, u.display_name AS DisplayName, m.role, m.created_at AS JoinedAt
            FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.org_id = @orgId
            ORDER BY m.created_at, u.id
            """, new { orgId }, cancellationToken: cancellationToken));
        return TypedResults.Ok(new MemberListResponse(rows.Select(r => new MemberResponse(r.UserId, r.Email, r.DisplayName, r.Role, r.JoinedAt)).ToList()));
    }

    private sealed record Row(Guid UserId, string Email, string DisplayName, string Role, DateTime JoinedAt);
}
