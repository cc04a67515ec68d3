using Microsoft.Extensions.Diagnostics.HealthChecks;
using Service.Infrastructure.Database.Migrations;

namespace Service.Infrastructure.Database;

public sealed class MigrationsHealthCheck(MigrationRunner runner) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        MigrationStatus status;
        try
        {
            status = await runner.GetStatusAsync(cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy($"migration state unreadable ({e.GetType().Name})");
        }
        if (status.Mismatched.Count > 0) return HealthCheckResult.Unhealthy($"{status.Mismatched.Count} applied migrations differ from their files");
        if (status.Pending.Count > 0) return HealthCheckResult.Unhealthy($"{status.Pending.Count} pending migrations");
        // A newer build applied these during a rolling deploy; this instance still works, so keep serving.
        if (status.UnknownApplied.Count > 0) return HealthCheckResult.Degraded($"{status.UnknownApplied.Count} applied migrations unknown to this build");
        return HealthCheckResult.Healthy($"{status.Known.Count} applied, none pending");
    }
}
