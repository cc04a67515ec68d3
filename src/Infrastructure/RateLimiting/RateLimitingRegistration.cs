using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Health;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.RateLimiting;

public static class RateLimitingRegistration
{
    public static IServiceCollection AddRateLimits(this IServiceCollection services)
    {
        services.AddValidatedOptions<RateLimitOptions>(RateLimitOptions.Section);
        services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        services.AddSingleton<RedisWindowStore>();
        services.AddSingleton<LocalWindowStore>();
        services.AddSingleton<RateLimitTelemetry>();
        services.AddSingleton<DistributedRateLimiter>();

        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<DistributedRateLimiter>((options, limiter) =>
        {
            options.GlobalLimiter = limiter;
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = RateLimitRejection.WriteAsync;
        });
        services.AddHealthChecks().AddCheck<RateLimitingHealthCheck>("rate_limiting", tags: [ReadinessProbe.Tag]);
        return services;
    }
}
