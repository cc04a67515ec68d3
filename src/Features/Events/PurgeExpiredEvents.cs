using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Events;
using Service.Infrastructure.Jobs;

namespace Service.Features.Events;

/// <summary>
/// Every Events:RetentionIntervalSeconds, on one instance at a time (a PostgreSQL advisory lock): deletes events
/// older than their organization's retention (its privacy policy), then those older than Events:RetentionDays, and
/// expired Idempotency-Key records, in batches of Events:RetentionBatchSize (each its own short statement), never
/// one huge delete.
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
        var now = Time.GetUtcNow().UtcDateTime;
        var shorter = (await connection.QueryAsync<(Guid OrgId, int Days)>(new CommandDefinition(
            "SELECT org_id, retention_days FROM privacy_policies WHERE retention_days < @RetentionDays", new { options.RetentionDays }, cancellationToken: cancellationToken))).AsList();
        long byPolicy = 0;
        foreach (var (orgId, days) in shorter)
        {
            var (deleted, _) = await DeleteInBatchesAsync(connection, """
                DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events WHERE org_id = @orgId AND occurred_at < @cutoff LIMIT @batch))
                """, new { orgId, cutoff = now - TimeSpan.FromDays(days), batch = options.RetentionBatchSize }, options.RetentionBatchSize, cancellationToken);
            byPolicy += deleted;
        }

        var cutoff = now - TimeSpan.FromDays(options.RetentionDays);
        var (events, statements) = await DeleteInBatchesAsync(connection, """
            DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events WHERE occurred_at < @cutoff LIMIT @batch))
            """, new { cutoff, batch = options.RetentionBatchSize }, options.RetentionBatchSize, cancellationToken);
        var (keys, _) = await DeleteInBatchesAsync(connection, """
            DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT @batch))
            """, new { batch = options.RetentionBatchSize }, options.RetentionBatchSize, cancellationToken);
        if (byPolicy > 0)
        {
            Logger.LogInformation("Organization retention deleted {Events} events older than their organization's own retention ({Organizations} organizations keep events less than {Days} days)",
                byPolicy, shorter.Count, options.RetentionDays);
        }
        if (events + keys > 0)
        {
            Logger.LogInformation("Event retention deleted {Events} events older than {Days} days in {Statements} statements of at most {BatchSize} rows, and {Keys} expired idempotency keys",
                events, options.RetentionDays, statements, options.RetentionBatchSize, keys);
        }
    }
}
