using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

/// <summary>
/// Deletes a workflow: its triggers stop, queued runs are cancelled and running ones are asked to stop. Its runs stay
/// readable until retention removes them.
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
            WITH queued AS (
                UPDATE workflow_runs SET status = 'cancelled', finished_at = now(), error_class = 'cancelled', error = 'The workflow was deleted.'
                WHERE workflow_id = @workflowId AND status = 'queued' RETURNING 1
            ), running AS (
                UPDATE workflow_runs SET cancel_requested_at = coalesce(cancel_requested_at, now())
                WHERE workflow_id = @workflowId AND status = 'running' RETURNING 1
            )
            SELECT (SELECT count(*)::int FROM queued), (SELECT count(*)::int FROM running);
            """, new { workflowId }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "workflow.deleted", "workflow",
            workflowId.ToString(), new { name = row.Name, cancelledRuns = cancelled, stoppingRuns = asked }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
