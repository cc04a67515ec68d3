using System.Security.Claims;
using System.Text.Json;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

/// <summary>
/// Saves a new workflow as version 1, disabled: event and schedule triggers start only once it is enabled (a manual
/// run works at once). 400 lists every problem by field (steps[3].input.body); nothing is saved then.
/// </summary>
public static class CreateWorkflow
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/", Handle)
            .WithName("CreateWorkflow")
            .WithSummary("Create a workflow (disabled until enabled)")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Created<WorkflowResponse>, ValidationProblem>> Handle(
        Guid orgId, WorkflowDefinition definition, HttpContext http, ClaimsPrincipal user, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var compiled = WorkflowRules.Compile(definition, errors);
        if (compiled is null) return TypedResults.ValidationProblem(errors);
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await WorkflowRules.CheckIntegrationsAsync(connection, orgId, compiled, errors, cancellationToken);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var userId = user.RequiredUserId();
        var id = Guid.CreateVersion7();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO workflows (id, org_id, name, version, trigger_type, created_by) VALUES (@id, @orgId, @Name, 1, @TriggerType, @userId);
            INSERT INTO workflow_versions (workflow_id, version, definition, created_by) VALUES (@id, 1, @definition::jsonb, @userId);
            """, new { id, orgId, compiled.Definition.Name, compiled.TriggerType, userId, definition = JsonSerializer.Serialize(compiled.Definition, JsonSerializerOptions.Web) },
            transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "workflow.created", "workflow", id.ToString(),
            new { name = compiled.Definition.Name, trigger = compiled.TriggerType, steps = compiled.Steps.Count }), cancellationToken);
        var row = (await WorkflowRow.FindAsync(connection, orgId, id, transaction, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        http.Response.Headers.ETag = row.ETag;
        return TypedResults.Created($"/api/v1/orgs/{orgId}/workflows/{id}", row.ToResponse());
    }
}
