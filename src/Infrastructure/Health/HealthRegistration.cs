using Microsoft.Extensions.Diagnostics.HealthChecks;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Health;

public static class HealthRegistration
{
    /// <summary>The probe machinery; each dependency registers its own check (tag "ready") where it is added.</summary>
    public static IServiceCollection AddHealth(this IServiceCollection services)
    {
        services.AddValidatedOptions<HealthOptions>(HealthOptions.Section);
        services.AddHealthChecks();
        // PostConfigure: checks are registered by Configure actions, some added after this one (AddDatabase, ...).
        // The health-check publisher (a hosted service) builds these options before the startup guard runs.
        services.AddOptions<HealthCheckServiceOptions>().PostConfigure<IConfiguration>((checks, configuration) =>
        {
            var timeout = TimeSpan.FromMilliseconds(Math.Max(1, configuration.ReadUnvalidated<HealthOptions>(HealthOptions.Section).CheckTimeoutMilliseconds));
            foreach (var registration in checks.Registrations)
            {
                registration.Timeout = timeout;
            }
        });
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ReadinessProbe>();
        services.AddSingleton<ShutdownDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<ShutdownDrain>());
        return services;
    }
}
