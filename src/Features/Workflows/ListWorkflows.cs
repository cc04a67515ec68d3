using Dapper;
using Service.Infrastructure.Http;
using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

public sealed record ListWorkflowsQuery(string? Cursor, int? Limit);

/// <summary>An organization's workflows, newest first (without their definitions), in pages linked by an opaque cursor.</summary>
public static class ListWorkflows
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListWorkflows")
            .WithSummary("List an organization's workflows")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<Page<WorkflowResponse>>, ValidationProblem>> Handle(
        Guid orgId, [AsParameters] ListWorkflowsQuery query, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (PageRequest.Read(query.Cursor, query.Limit, errors) is not { } page) return TypedResults.ValidationProblem(errors);
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<WorkflowRow>(new CommandDefinition($"""
            SELECT {WorkflowRow.Columns} FROM {WorkflowRow.From}
            WHERE w.org_id = @orgId AND w.deleted_at IS NULL
              AND (@AfterAt::timestamptz IS NULL OR (w.created_at, w.id) < (@AfterAt, @AfterId))
            ORDER BY w.created_at DESC, w.id DESC
            LIMIT @Take
            """, new { orgId, page.AfterAt, page.AfterId, page.Take }, cancellationToken: cancellationToken))).AsList();
        return TypedResults.Ok(page.ToPage(rows, r => (r.CreatedAt, r.Id), r => r.ToResponse(withDefinition: false)));
    }
}
