using System.Security.Claims;
using System.Text.Json.Nodes;
using Dapper;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

/// <summary>
/// A new run of a failed, timed-out or cancelled run, with the same version and input, starting at the step that did
/// not finish: the steps before it are copied, so later steps still read their outputs. 202 with the new run.
/// </summary>
public static class RetryRun
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/runs/{runId:guid}/retry", Handle)
            .WithName("RetryRun")
            .WithSummary("Retry a run from the step that failed")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Accepted<RunResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid runId, ClaimsPrincipal user, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await RunQueries.FindAsync(connection, orgId, runId, null, cancellationToken) is not { } run) return WorkflowProblems.RunNotFound();
        if (run.Status is not (RunStatuses.Failed or RunStatuses.TimedOut or RunStatuses.Cancelled))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Nothing to retry",
                detail: $"Only failed, timed-out or cancelled runs can be retried; this one is {run.Status}.");
        }
        if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition("SELECT deleted_at IS NOT NULL FROM workflows WHERE id = @WorkflowId",
            new { run.WorkflowId }, transaction, cancellationToken: cancellationToken)))
        {
            return WorkflowProblems.NotFound();
        }
        var trigger = JsonNode.Parse(run.TriggerData) as JsonObject ?? [];
        trigger["retryOf"] = run.Id.ToString();
        var queued = (await RunQueue.EnqueueAsync(connection, transaction, new NewRun(orgId, run.WorkflowId, run.Version, "retry", trigger,
            run.Input is null ? null : JsonNode.Parse(run.Input), TimeSpan.FromSeconds(run.TimeoutSeconds), user.RequiredUserId(), RetryOf: run.Id,
            NextStep: run.NextStep), cancellationToken))!.Value;
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO workflow_run_steps (run_id, index, name, type, status, attempts, input, output, error_class, error, started_at, finished_at)
            SELECT @newRunId, index, name, type, status, attempts, input, output, error_class, error, started_at, finished_at
            FROM workflow_run_steps WHERE run_id = @runId AND index < @NextStep
            """, new { newRunId = queued, runId, run.NextStep }, transaction, cancellationToken: cancellationToken));
        var created = (await RunQueries.FindAsync(connection, orgId, queued, transaction, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Accepted(RunQueries.Location(orgId, created.Id), created.ToResponse());
    }
}
