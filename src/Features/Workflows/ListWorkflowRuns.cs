using Service.Infrastructure.Http;
using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

public sealed record ListWorkflowRunsQuery(string? Status, DateTimeOffset? From, DateTimeOffset? To, string? Cursor, int? Limit);

/// <summary>One workflow's runs, newest first, filtered by status and time.</summary>
public static class ListWorkflowRuns
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{workflowId:guid}/runs", Handle)
            .WithName("ListWorkflowRuns")
            .WithSummary("List a workflow's runs")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<Page<RunResponse>>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, Guid workflowId, [AsParameters] ListWorkflowRunsQuery query, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var page = PageRequest.Read(query.Cursor, query.Limit, errors);
        var filter = RunQueries.ReadFilter(query.Status, query.From, query.To, errors);
        if (page is null || filter is null) return TypedResults.ValidationProblem(errors);
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        if (await WorkflowRow.FindAsync(connection, orgId, workflowId, null, cancellationToken) is null) return WorkflowProblems.NotFound();
        return TypedResults.Ok(await RunQueries.ListAsync(connection, orgId, workflowId, filter, page, cancellationToken));
    }
}
