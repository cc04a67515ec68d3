using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
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
        services.AddOptions<HealthCheckServiceOptions>().PostConfigure<IOptions<HealthOptions>>((checks, health) =>
        {
            foreach (var registration in checks.Registrations)
            {
                registration.Timeout = TimeSpan.FromMilliseconds(health.Value.CheckTimeoutMilliseconds);
            }
        });
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ReadinessProbe>();
        services.AddSingleton<ShutdownDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<ShutdownDrain>());
        return services;
    }
}
