using System.Security.Claims;
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
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var id = await WorkflowStore.InsertAsync(connection, transaction, orgId, compiled, userId, cancellationToken);
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "workflow.created", "workflow", id.ToString(),
            new { name = compiled.Definition.Name, trigger = compiled.TriggerType, steps = compiled.Steps.Count }), cancellationToken);
        var row = (await WorkflowRow.FindAsync(connection, orgId, id, transaction, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        http.Response.Headers.ETag = row.ETag;
        return TypedResults.Created($"/api/v1/orgs/{orgId}/workflows/{id}", row.ToResponse());
    }
}
