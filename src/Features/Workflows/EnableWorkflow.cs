using System.Security.Claims;
using Service.Infrastructure.Security;

namespace Service.Features.Workflows;

/// <summary>Turns a workflow's trigger on: a schedule's next fire is planned from now (fires before it are not made up).</summary>
public static class EnableWorkflow
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{workflowId:guid}/enable", Handle)
            .WithName("EnableWorkflow")
            .WithSummary("Enable a workflow's trigger")
            .RequireOrgRole(OrgRole.Member);

    public static Task<Results<Ok<WorkflowResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid workflowId, ClaimsPrincipal user, [AsParameters] WorkflowServices services, CancellationToken cancellationToken) =>
        WorkflowSwitch.SetAsync(orgId, workflowId, true, user, services, cancellationToken);
}
