using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

/// <summary>
/// Deletes a workflow: its triggers stop, runs no worker holds (queued, waiting in a delay) are cancelled, and runs
/// being executed are asked to stop (their workers see it within a second). Its runs stay readable until retention.
/// </summary>
public static class DeleteWorkflow
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/{workflowId:guid}", Handle)
            .WithName("DeleteWorkflow")
            .WithSummary("Delete a workflow")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<NoContent, ProblemHttpResult>> Handle(
        Guid orgId, Guid workflowId, ClaimsPrincipal user, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await WorkflowRow.FindAsync(connection, orgId, workflowId, transaction, cancellationToken) is not { } row) return WorkflowProblems.NotFound();
        var (cancelled, asked) = await connection.QuerySingleAsync<(int, int)>(new CommandDefinition("""
            UPDATE workflows SET deleted_at = now(), enabled = false, next_fire_at = NULL, updated_at = now() WHERE id = @workflowId;
            DELETE FROM workflow_debounces WHERE workflow_id = @workflowId;
            UPDATE workflow_run_steps s SET status = 'cancelled', finished_at = now(), error_class = 'cancelled', error = 'The workflow was deleted.'
            FROM workflow_runs r
            WHERE s.run_id = r.id AND r.workflow_id = @workflowId AND s.status = 'waiting' AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now());
            WITH idle AS (
                UPDATE workflow_runs SET status = 'cancelled', finished_at = now(), cancel_requested_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                    error_class = 'cancelled', error = 'The workflow was deleted.'
                WHERE workflow_id = @workflowId AND status IN ('queued', 'running') AND (lease_expires_at IS NULL OR lease_expires_at < now())
                RETURNING id, org_id, workflow_id, version, trigger_type, created_at, started_at, finished_at
            ), announced AS (
                -- run.updated for each run cancelled here (the shape of RunUpdate), numbered after the commit.
                INSERT INTO stream_outbox (org_id, type, data)
                SELECT org_id, 'run.updated', jsonb_build_object('runId', id, 'workflowId', workflow_id, 'version', version, 'status', 'cancelled',
                    'triggerType', trigger_type, 'createdAt', created_at, 'startedAt', started_at, 'finishedAt', finished_at, 'errorClass', 'cancelled')
                FROM idle
            ), held AS (
                UPDATE workflow_runs SET cancel_requested_at = coalesce(cancel_requested_at, now())
                WHERE workflow_id = @workflowId AND status = 'running' AND lease_expires_at >= now() RETURNING 1
            )
            SELECT (SELECT count(*)::int FROM idle), (SELECT count(*)::int FROM held);
            """, new { workflowId }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "workflow.deleted", "workflow",
            workflowId.ToString(), new { name = row.Name, cancelledRuns = cancelled, stoppingRuns = asked }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
