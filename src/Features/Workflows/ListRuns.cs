using Service.Infrastructure.Http;
using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

/// <param name="From">Runs created at or after this time.</param>
/// <param name="To">Runs created before this time.</param>
public sealed record ListRunsQuery(Guid? WorkflowId, string? Status, DateTimeOffset? From, DateTimeOffset? To, string? Cursor, int? Limit);

/// <summary>The organization's runs of every workflow, newest first, filtered by workflow, status and time.</summary>
public static class ListRuns
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/runs", Handle)
            .WithName("ListRuns")
            .WithSummary("List the runs of an organization's workflows")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<Page<RunResponse>>, ValidationProblem>> Handle(
        Guid orgId, [AsParameters] ListRunsQuery query, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var page = PageRequest.Read(query.Cursor, query.Limit, errors);
        var filter = RunQueries.ReadFilter(query.Status, query.From, query.To, errors);
        if (page is null || filter is null) return TypedResults.ValidationProblem(errors);
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        return TypedResults.Ok(await RunQueries.ListAsync(connection, orgId, query.WorkflowId, filter, page, cancellationToken));
    }
}
