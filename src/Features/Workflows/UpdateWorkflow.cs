using System.Security.Claims;
using System.Text.Json;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

/// <summary>
/// Replaces the definition with a new version (runs already queued keep the version they were queued with).
/// If-Match must carry the current ETag: without it 428, with a stale one 412, so two editors never overwrite each
/// other silently. An enabled schedule is re-planned from now.
/// </summary>
public static class UpdateWorkflow
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPut("/{workflowId:guid}", Handle)
            .WithName("UpdateWorkflow")
            .WithSummary("Save a new version of a workflow (If-Match required)")
            .RequireOrgRole(OrgRole.Member)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status428PreconditionRequired);

    public static async Task<Results<Ok<WorkflowResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, Guid workflowId, WorkflowDefinition definition, HttpContext http, ClaimsPrincipal user, [AsParameters] WorkflowServices services,
        CancellationToken cancellationToken)
    {
        var ifMatch = http.Request.Headers.IfMatch.ToString();
        if (ifMatch.Length == 0)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status428PreconditionRequired, title: "If-Match required",
                detail: "Send the ETag of the version you edited in If-Match, so that a change made meanwhile is not overwritten.");
        }
        var errors = new Dictionary<string, string[]>();
        var compiled = WorkflowRules.Compile(definition, errors);
        if (compiled is null) return TypedResults.ValidationProblem(errors);
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await WorkflowRules.CheckIntegrationsAsync(connection, orgId, compiled, errors, cancellationToken);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await WorkflowRow.FindAsync(connection, orgId, workflowId, transaction, cancellationToken) is not { } row) return WorkflowProblems.NotFound();
        if (ifMatch != "*" && !ifMatch.Split(',', StringSplitOptions.TrimEntries).Contains(row.ETag))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status412PreconditionFailed, title: "Changed by someone else",
                detail: $"The workflow is now at version {row.Version}; GET it again, then retry with its ETag.");
        }
        var userId = user.RequiredUserId();
        var version = row.Version + 1;
        var nextFire = NextFire.After(compiled, row.Enabled, services.Time.GetUtcNow());
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO workflow_versions (workflow_id, version, definition, created_by) VALUES (@workflowId, @version, @definition::jsonb, @userId);
            UPDATE workflows SET name = @Name, version = @version, trigger_type = @TriggerType, next_fire_at = @nextFire, updated_at = now() WHERE id = @workflowId;
            """,
            new
            {
                workflowId, version, userId, compiled.Definition.Name, compiled.TriggerType, nextFire = nextFire?.UtcDateTime,
                definition = JsonSerializer.Serialize(compiled.Definition, JsonSerializerOptions.Web),
            }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "workflow.updated", "workflow", workflowId.ToString(),
            new { name = compiled.Definition.Name, version, trigger = compiled.TriggerType }), cancellationToken);
        var updated = (await WorkflowRow.FindAsync(connection, orgId, workflowId, transaction, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        http.Response.Headers.ETag = updated.ETag;
        return TypedResults.Ok(updated.ToResponse());
    }
}
