using System.Text.Json;
using Dapper;
using Service.Infrastructure.Database;
using Service.Infrastructure.Http;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

public sealed record ListWorkflowVersionsQuery(string? Cursor, int? Limit);

public sealed record WorkflowVersionResponse(int Version, WorkflowDefinition Definition, Guid CreatedBy, DateTimeOffset CreatedAt);

/// <summary>Every saved version of a workflow, newest first; runs name the version they ran.</summary>
public static class ListWorkflowVersions
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{workflowId:guid}/versions", Handle)
            .WithName("ListWorkflowVersions")
            .WithSummary("List the saved versions of a workflow")
            .RequireOrgRole(OrgRole.Viewer);

    private sealed record VersionRow(int Version, string Definition, Guid CreatedBy, DateTime CreatedAt);

    public static async Task<Results<Ok<Page<WorkflowVersionResponse>>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, Guid workflowId, [AsParameters] ListWorkflowVersionsQuery query, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (NumberPageRequest.Read(query.Cursor, query.Limit, errors) is not { } page) return TypedResults.ValidationProblem(errors);
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        if (await WorkflowRow.FindAsync(connection, orgId, workflowId, null, cancellationToken) is null) return WorkflowProblems.NotFound();
        var rows = (await connection.QueryAsync<VersionRow>(new CommandDefinition("""
            SELECT version, definition::text AS Definition, created_by AS CreatedBy, created_at AS CreatedAt FROM workflow_versions
            WHERE workflow_id = @workflowId AND (@Before::int IS NULL OR version < @Before)
            ORDER BY version DESC LIMIT @Take
            """, new { workflowId, Before = (int?)page.Before, page.Take }, cancellationToken: cancellationToken))).AsList();
        return TypedResults.Ok(page.ToPage(rows, r => r.Version, r => new WorkflowVersionResponse(r.Version,
            JsonSerializer.Deserialize<WorkflowDefinition>(r.Definition, JsonSerializerOptions.Web)!, r.CreatedBy, r.CreatedAt.AsUtc())));
    }
}
