using Service.Infrastructure.FeatureFlags;

namespace Service.Features.Workflows;

/// <summary>
/// An organization's workflows and their runs: viewers read, members create, edit and run; agent keys have no
/// access. The engine that executes them (queue, workers, scheduler, event matching) is in Infrastructure/Workflows.
/// The Workflows kill switch answers 503 here, and stops the engine from claiming runs or firing schedules.
/// </summary>
public static class WorkflowsEndpoints
{
    /// <summary>Definitions of 256 KiB are judged by the rules (a 400 naming the limit), so the body may be somewhat larger.</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    public static IServiceCollection AddWorkflows(this IServiceCollection services)
    {
        services.AddHostedService<PruneRuns>();
        return services;
    }

    public static IEndpointRouteBuilder MapWorkflows(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/workflows")
            .WithTags("Workflows")
            .RequireFeature(FeatureFlagCatalog.Workflows)
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxBodyBytes));
        CreateWorkflow.Map(group);
        ListWorkflows.Map(group);
        ValidateWorkflow.Map(group);
        ListRuns.Map(group);
        GetRun.Map(group);
        CancelRun.Map(group);
        RetryRun.Map(group);
        GetWorkflow.Map(group);
        UpdateWorkflow.Map(group);
        DeleteWorkflow.Map(group);
        EnableWorkflow.Map(group);
        DisableWorkflow.Map(group);
        ListWorkflowVersions.Map(group);
        StartRun.Map(group);
        ListWorkflowRuns.Map(group);
        return app;
    }
}
