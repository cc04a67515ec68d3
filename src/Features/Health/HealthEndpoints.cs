using Service.Infrastructure.Database;

namespace Service.Features.Health;

/// <summary>
/// Probes for orchestrators: mapped in every environment, never authenticated, rate limited or feature gated, and
/// outside the database circuit (readiness reports PostgreSQL through its own timed check).
/// </summary>
public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health")
            .WithTags("Health")
            .AllowAnonymous()
            .DisableRateLimiting()
            .WithoutDatabaseCircuit();
        GetLiveness.Map(group);
        GetReadiness.Map(group);
        GetMigrations.Map(group);
        return app;
    }
}
