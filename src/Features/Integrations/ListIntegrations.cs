using Dapper;
using Service.Infrastructure.Http;
using Service.Infrastructure.Security;

namespace Service.Features.Integrations;

public sealed record ListIntegrationsQuery(string? Cursor, int? Limit);

/// <summary>An organization's integrations, newest first, in pages linked by an opaque cursor.</summary>
public static class ListIntegrations
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListIntegrations")
            .WithSummary("List an organization's integrations")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Ok<Page<IntegrationResponse>>, ValidationProblem>> Handle(
        Guid orgId, [AsParameters] ListIntegrationsQuery query, [AsParameters] IntegrationServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (PageRequest.Read(query.Cursor, query.Limit, errors) is not { } page) return TypedResults.ValidationProblem(errors);

        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<IntegrationRow>(new CommandDefinition($"""
            SELECT {IntegrationRow.Columns} FROM integrations
            WHERE org_id = @orgId AND deleted_at IS NULL
              AND (@AfterAt::timestamptz IS NULL OR (created_at, id) < (@AfterAt, @AfterId))
            ORDER BY created_at DESC, id DESC
            LIMIT @Take
            """, new { orgId, page.AfterAt, page.AfterId, page.Take }, cancellationToken: cancellationToken))).AsList();
        return TypedResults.Ok(page.ToPage(rows, r => (r.CreatedAt, r.Id), r => r.ToResponse()));
    }
}
