using Microsoft.Extensions.Diagnostics.HealthChecks;
using Polly.CircuitBreaker;

namespace Service.Infrastructure.RateLimiting;

/// <summary>Degraded while the Redis circuit is open (decisions local or refused), with the fallback counts.</summary>
public sealed class RateLimitingHealthCheck(DistributedRateLimiter limiter, RateLimitTelemetry telemetry) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        var counts = $"{telemetry.FallbackDecisions} fallback decisions, {telemetry.UnavailableRefusals} fail-closed refusals since start";
        return Task.FromResult(limiter.Circuit.CircuitState is CircuitState.Open or CircuitState.Isolated
            ? HealthCheckResult.Degraded($"Redis circuit open: limits decided per instance; {counts}")
            : HealthCheckResult.Healthy($"decisions in Redis; {counts}"));
    }
}
