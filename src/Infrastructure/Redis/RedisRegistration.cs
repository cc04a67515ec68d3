using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;
using StackExchange.Redis;

namespace Service.Infrastructure.Redis;

public static class RedisRegistration
{
    public static IServiceCollection AddRedis(this IServiceCollection services)
    {
        services.AddValidatedOptions<RedisOptions>(RedisOptions.Section);
        services.AddSingleton<IValidateOptions<RedisOptions>, RedisOptionsValidator>();
        services.AddSingleton<RedisConnection>();
        services.AddHostedService<RedisWarmup>();
        services.AddSingleton<IConnectionMultiplexer>(sp => sp.GetRequiredService<RedisConnection>().Multiplexer);
        // PING through the shared connection. Down is Degraded, not Unhealthy: requests are still served (rate limits
        // fall back per policy), so the instance keeps its traffic.
        services.AddHealthChecks().AddRedis(sp => sp.GetRequiredService<IConnectionMultiplexer>(), name: "redis", failureStatus: HealthStatus.Degraded, tags: ["ready"]);
        return services;
    }
}
