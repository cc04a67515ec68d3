using System.Security.Claims;
using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

/// <summary>Turns a workflow's trigger off: no more fires or event matches (a gathering debounce window is dropped); runs under way finish.</summary>
public static class DisableWorkflow
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{workflowId:guid}/disable", Handle)
            .WithName("DisableWorkflow")
            .WithSummary("Disable a workflow's trigger")
            .RequireOrgRole(OrgRole.Member);

    public static Task<Results<Ok<WorkflowResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid workflowId, ClaimsPrincipal user, [AsParameters] WorkflowServices services, CancellationToken cancellationToken) =>
        WorkflowSwitch.SetAsync(orgId, workflowId, false, user, services, cancellationToken);
}
