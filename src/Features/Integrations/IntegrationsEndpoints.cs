using Service.Infrastructure.FeatureFlags;

namespace Service.Features.Integrations;

/// <summary>
/// An organization's integrations and their delivery logs: members read, admins and owners change. The delivery
/// pipeline itself (outbox, workers, signing, address checks) is in Infrastructure/Integrations, shared with workflows.
/// </summary>
public static class IntegrationsEndpoints
{
    public static IServiceCollection AddIntegrations(this IServiceCollection services)
    {
        services.AddHostedService<PruneDeliveries>();
        return services;
    }

    public static IEndpointRouteBuilder MapIntegrations(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/integrations").WithTags("Integrations");
        CreateIntegration.Map(group);
        ListIntegrations.Map(group);
        GetIntegration.Map(group);
        UpdateIntegration.Map(group);
        DeleteIntegration.Map(group);
        RotateIntegrationSecret.Map(group);
        TestIntegration.Map(group);
        ListDeliveries.Map(group);
        RedeliverDelivery.Map(group);
        return app;
    }
}
