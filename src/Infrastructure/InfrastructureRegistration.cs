using Microsoft.Extensions.Options;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Database;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.ErrorReporting;
using Service.Infrastructure.Health;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Http;
using Service.Infrastructure.Observability;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Redis;
using Service.Infrastructure.Resilience;
using Service.Infrastructure.Secrets;
using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;
using Service.Infrastructure.Storage;
using Service.Infrastructure.Streaming;
using Service.Infrastructure.Workflows;
using Service.Infrastructure.Patterns;
using Service.Infrastructure.Privacy;

namespace Service.Infrastructure;

public static class InfrastructureRegistration
{
    public static WebApplicationBuilder AddInfrastructure(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddLogging();
        builder.AddTelemetry();
        builder.AddHttpBasics();

        services.AddHttpContextAccessor();
        services.AddSecurity();
        services.AddFeatureFlags();
        services.AddSingleton<AuditLog>();
        services.AddSingleton<DependencyPipelines>();
        builder.AddErrorReporting();

        services.AddHealth();
        services.AddDatabase();
        services.AddRedis();
        services.AddStorage();
        services.AddRateLimits();
        services.AddSecrets();
        services.AddIntegrationDelivery();
        services.AddStreaming();
        services.AddWorkflowEngine();
        services.AddPatternDetection();
        services.AddPrivacy();

        services.AddStartupGuard(); // last: it wraps every ValidateOnStart registered above
        return builder;
    }
}
