using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Jobs;

namespace Service.Features.Events;

/// <summary>
/// Every Events:RetentionIntervalSeconds, on one instance at a time (a PostgreSQL advisory lock): deletes events
/// older than Events:RetentionDays, and expired Idempotency-Key records, in batches of Events:RetentionBatchSize
/// (each its own short statement), never one huge delete.
/// </summary>
public sealed class PurgeExpiredEvents(IServiceProvider services, TimeProvider time, ILogger<PurgeExpiredEvents> logger)
    : PeriodicJob(services, time, logger)
{
    protected override string Name => "events.retention";
    protected override string Title => "Event retention";

    private EventOptions Options => Services.GetRequiredService<IOptions<EventOptions>>().Value;

    protected override TimeSpan ReadInterval() => TimeSpan.FromSeconds(Options.RetentionIntervalSeconds);

    protected override async Task RunLockedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var options = Options;
        var cutoff = Time.GetUtcNow().UtcDateTime - TimeSpan.FromDays(options.RetentionDays);
        var (events, statements) = await DeleteInBatchesAsync(connection, """
            DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events WHERE occurred_at < @cutoff LIMIT @batch))
            """, new { cutoff, batch = options.RetentionBatchSize }, options.RetentionBatchSize, cancellationToken);
        var (keys, _) = await DeleteInBatchesAsync(connection, """
            DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT @batch))
            """, new { batch = options.RetentionBatchSize }, options.RetentionBatchSize, cancellationToken);
        if (events + keys > 0)
        {
            Logger.LogInformation("Event retention deleted {Events} events older than {Days} days in {Statements} statements of at most {BatchSize} rows, and {Keys} expired idempotency keys",
                events, options.RetentionDays, statements, options.RetentionBatchSize, keys);
        }
    }
}
