using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Observability;

namespace Service.Features.Integrations;

/// <summary>
/// Every Integrations:RetentionIntervalSeconds, on one instance at a time (an advisory lock): deletes delivered and
/// failed deliveries completed more than Integrations:DeliveryRetentionDays ago, in batches. Pending ones are never
/// touched, however old.
/// </summary>
public sealed class PruneDeliveries(IServiceProvider services, TimeProvider time, ILogger<PruneDeliveries> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        var options = services.GetRequiredService<IOptions<IntegrationOptions>>().Value;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.RetentionIntervalSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            using var run = ServiceDiagnostics.StartJob("webhooks.retention");
            try
            {
                await RunOnceAsync(dataSource, options, stoppingToken);
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (NpgsqlException e)
            {
                ServiceDiagnostics.JobFailed("webhooks.retention", run, e);
                logger.LogWarning("Delivery retention skipped this round: the database is unavailable ({Error})", e.GetType().Name);
            }
            catch (Exception e)
            {
                ServiceDiagnostics.JobFailed("webhooks.retention", run, e);
                logger.LogError(e, "Delivery retention failed");
            }
        }
    }

    public async Task<long> RunOnceAsync(NpgsqlDataSource dataSource, IntegrationOptions options, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT pg_try_advisory_lock(hashtextextended('webhooks:retention', 0))", cancellationToken: cancellationToken)))
        {
            return 0; // another instance is pruning
        }
        try
        {
            var cutoff = time.GetUtcNow().UtcDateTime - TimeSpan.FromDays(options.DeliveryRetentionDays);
            long total = 0;
            int deleted;
            do
            {
                deleted = await connection.ExecuteAsync(new CommandDefinition("""
                    DELETE FROM webhook_deliveries WHERE id = ANY(ARRAY(
                        SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND completed_at < @cutoff LIMIT @batch))
                    """, new { cutoff, batch = options.RetentionBatchSize }, cancellationToken: cancellationToken));
                total += deleted;
            } while (deleted == options.RetentionBatchSize);
            if (total > 0) logger.LogInformation("Delivery retention deleted {Deliveries} deliveries completed more than {Days} days ago", total, options.DeliveryRetentionDays);
            return total;
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(hashtextextended('webhooks:retention', 0))");
        }
    }
}
