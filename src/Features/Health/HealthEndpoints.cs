namespace Service.Features.Health;

/// <summary>Probes for orchestrators: mapped in every environment, never authenticated, rate limited or feature gated.</summary>
public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health")
            .WithTags("Health")
            .AllowAnonymous()
            .DisableRateLimiting();
        GetLiveness.Map(group);
        GetReadiness.Map(group);
        GetMigrations.Map(group);
        return app;
    }
}
