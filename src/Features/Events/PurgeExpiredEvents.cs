using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Observability;

namespace Service.Features.Events;

/// <summary>
/// Every Events:RetentionIntervalSeconds, on one instance at a time (a PostgreSQL advisory lock): deletes events
/// older than Events:RetentionDays, and expired Idempotency-Key records, in batches of Events:RetentionBatchSize
/// (each its own short statement), never one huge delete.
/// </summary>
public sealed class PurgeExpiredEvents(IServiceProvider services, TimeProvider time, ILogger<PurgeExpiredEvents> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved here: hosted services are built before the startup guard has checked the settings.
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        var options = services.GetRequiredService<IOptions<EventOptions>>().Value;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.RetentionIntervalSeconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            using var run = ServiceDiagnostics.StartJob("events.retention");
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
                ServiceDiagnostics.JobFailed("events.retention", run, e);
                logger.LogWarning("Event retention skipped this round: the database is unavailable ({Error})", e.GetType().Name);
            }
            catch (Exception e)
            {
                ServiceDiagnostics.JobFailed("events.retention", run, e);
                logger.LogError(e, "Event retention failed");
            }
        }
    }

    private async Task RunOnceAsync(NpgsqlDataSource dataSource, EventOptions options, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var locked = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT pg_try_advisory_lock(hashtextextended('events:retention', 0))", cancellationToken: cancellationToken));
        if (!locked) return; // another instance is purging
        try
        {
            var cutoff = time.GetUtcNow().UtcDateTime - TimeSpan.FromDays(options.RetentionDays);
            var (events, statements) = await DeleteInBatchesAsync(connection, """
                DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events WHERE occurred_at < @cutoff LIMIT @batch))
                """, new { cutoff, batch = options.RetentionBatchSize }, options.RetentionBatchSize, cancellationToken);
            var (keys, _) = await DeleteInBatchesAsync(connection, """
                DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT @batch))
                """, new { batch = options.RetentionBatchSize }, options.RetentionBatchSize, cancellationToken);
            if (events + keys > 0)
            {
                logger.LogInformation("Event retention deleted {Events} events older than {Days} days in {Statements} statements of at most {BatchSize} rows, and {Keys} expired idempotency keys",
                    events, options.RetentionDays, statements, options.RetentionBatchSize, keys);
            }
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(hashtextextended('events:retention', 0))");
        }
    }

    private static async Task<(long Deleted, int Statements)> DeleteInBatchesAsync(NpgsqlConnection connection, string sql, object parameters, int batch,
        CancellationToken cancellationToken)
    {
        long total = 0;
        var statements = 0;
        int deleted;
        do
        {
            deleted = await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
            total += deleted;
            statements++;
        } while (deleted == batch);
        return (total, statements);
    }
}
