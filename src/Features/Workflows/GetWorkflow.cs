using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

/// <summary>A workflow with its current definition; the ETag header is what an update's If-Match must carry.</summary>
public static class GetWorkflow
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{workflowId:guid}", Handle)
            .WithName("GetWorkflow")
            .WithSummary("Get a workflow and its current definition")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<WorkflowResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid workflowId, HttpContext http, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        if (await WorkflowRow.FindAsync(connection, orgId, workflowId, null, cancellationToken) is not { } row) return WorkflowProblems.NotFound();
        http.Response.Headers.ETag = row.ETag;
        return TypedResults.Ok(row.ToResponse());
    }
}
