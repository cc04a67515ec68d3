using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Service.Infrastructure.Redis;

/// <summary>
/// PING through the shared connection. Redis down is Degraded, not Unhealthy: requests are still served (rate limits
/// fall back per policy), so the instance should keep its traffic.
/// </summary>
public sealed class RedisHealthCheck(RedisConnection redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        try
        {
            var database = await redis.GetDatabaseAsync(cancellationToken);
            // This client version's PingAsync takes no token: bound it here so the probe never outlives its timeout.
            var latency = await database.PingAsync().WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy($"PING answered in {latency.TotalMilliseconds:F1} ms");
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            return HealthCheckResult.Degraded($"Redis unreachable ({e.GetType().Name}); rate limits fall back per policy");
        }
    }
}
