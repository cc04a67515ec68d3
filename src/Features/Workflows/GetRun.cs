using Dapper;
using Service.Infrastructure.Database;
using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

/// <summary>A run with the record of each step it reached.</summary>
public static class GetRun
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/runs/{runId:guid}", Handle)
            .WithName("GetRun")
            .WithSummary("Get a run and its steps")
            .RequireOrgRole(OrgRole.Viewer);

    private sealed record StepRow(int Index, string Name, string Type, string Status, int Attempts, string? Input, string? Output, string? ErrorClass,
        string? Error, DateTime? StartedAt, DateTime? FinishedAt);

    public static async Task<Results<Ok<RunResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid runId, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        if (await RunQueries.FindAsync(connection, orgId, runId, null, cancellationToken) is not { } run) return WorkflowProblems.RunNotFound();
        var steps = await connection.QueryAsync<StepRow>(new CommandDefinition("""
            SELECT index, name, type, status, attempts, input::text AS Input, output::text AS Output, error_class AS ErrorClass, error,
                   started_at AS StartedAt, finished_at AS FinishedAt
            FROM workflow_run_steps WHERE run_id = @runId ORDER BY index
            """, new { runId }, cancellationToken: cancellationToken));
        return TypedResults.Ok(run.ToResponse(steps.Select(s => new RunStepResponse(s.Index, s.Name, s.Type, s.Status, s.Attempts, RunRow.Parse(s.Input),
            RunRow.Parse(s.Output), s.ErrorClass, s.Error, s.StartedAt.AsUtc(), s.FinishedAt.AsUtc())).ToList()));
    }
}
