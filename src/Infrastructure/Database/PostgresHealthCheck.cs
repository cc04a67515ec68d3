using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Service.Infrastructure.Database;

/// <summary>SELECT 1 through the app's own data source, so the probe sees what requests see (pool included).</summary>
public sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy("SELECT 1 succeeded");
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            throw; // the framework reports it as a timeout
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy($"PostgreSQL unreachable ({e.GetType().Name})");
        }
    }
}
