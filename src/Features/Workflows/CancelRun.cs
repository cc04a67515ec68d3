using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Database;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

/// <summary>
/// Cancels a run. One that no worker holds (queued, or waiting in a delay or a retry) is cancelled here: 200. One
/// that a worker is executing is asked to stop: 202, and the worker (on any instance, told through Redis, or through
/// PostgreSQL within a second without it) aborts the step in flight and records the run as cancelled. A finished
/// run is 409: its status is never overwritten.
/// </summary>
public static class CancelRun
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/runs/{runId:guid}/cancel", Handle)
            .WithName("CancelRun")
            .WithSummary("Cancel a run")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Ok<RunResponse>, Accepted<RunResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid runId, ClaimsPrincipal user, RunCancels cancels, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await RunQueries.FindAsync(connection, orgId, runId, transaction, cancellationToken) is not { } run) return WorkflowProblems.RunNotFound();
        if (RunStatuses.Final.Contains(run.Status))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Run already finished", detail: $"The run ended {run.Status}.");
        }
        var held = run.Held;
        var finished = await connection.QuerySingleAsync<(DateTime? FinishedAt, DateTime? StartedAt)>(new CommandDefinition("""
            UPDATE workflow_runs SET cancel_requested_at = coalesce(cancel_requested_at, now()),
                status = CASE WHEN @held THEN status ELSE 'cancelled' END,
                finished_at = CASE WHEN @held THEN NULL ELSE now() END,
                error_class = CASE WHEN @held THEN error_class ELSE 'cancelled' END,
                error = CASE WHEN @held THEN error ELSE 'Cancelled on request.' END,
                lease_owner = CASE WHEN @held THEN lease_owner END, lease_expires_at = CASE WHEN @held THEN lease_expires_at END
            WHERE id = @runId
            RETURNING finished_at, started_at;
            UPDATE workflow_run_steps SET status = 'cancelled', finished_at = now(), error_class = 'cancelled', error = 'Cancelled on request while waiting.'
            WHERE run_id = @runId AND status = 'waiting' AND NOT @held;
            """, new { runId, held }, transaction, cancellationToken: cancellationToken));
        if (!held)
        {
            await RunQueue.AnnounceAsync(connection, transaction, orgId, new RunUpdate(run.Id, run.WorkflowId, run.Version, RunStatuses.Cancelled,
                run.TriggerType, run.CreatedAt.AsUtc(), finished.StartedAt.AsUtc(), finished.FinishedAt.AsUtc(), "cancelled"), cancellationToken);
        }
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "workflow.run.cancelled", "workflow_run",
            runId.ToString(), new { workflowId = run.WorkflowId, wasRunning = held }), cancellationToken);
        var updated = (await RunQueries.FindAsync(connection, orgId, runId, transaction, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        if (!held) return TypedResults.Ok(updated.ToResponse());
        await cancels.AnnounceAsync(runId);
        return TypedResults.Accepted(RunQueries.Location(orgId, runId), updated.ToResponse());
    }
}
