using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Jobs;

namespace Service.Features.Integrations;

/// <summary>
/// Every Integrations:RetentionIntervalSeconds, on one instance at a time (an advisory lock): deletes delivered and
/// failed deliveries completed more than Integrations:DeliveryRetentionDays ago, in batches. Pending ones are never
/// touched, however old.
/// </summary>
public sealed class PruneDeliveries(IServiceProvider services, TimeProvider time, ILogger<PruneDeliveries> logger)
    : PeriodicJob(services, time, logger)
{
    protected override string Name => "webhooks.retention";
    protected override string Title => "Delivery retention";

    private IntegrationOptions Options => Services.GetRequiredService<IOptions<IntegrationOptions>>().Value;

    protected override TimeSpan ReadInterval() => TimeSpan.FromSeconds(Options.RetentionIntervalSeconds);

    protected override async Task RunLockedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var options = Options;
        var cutoff = Time.GetUtcNow().UtcDateTime - TimeSpan.FromDays(options.DeliveryRetentionDays);
        var (total, _) = await DeleteInBatchesAsync(connection, """
            DELETE FROM webhook_deliveries WHERE id = ANY(ARRAY(
                SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND completed_at < @cutoff LIMIT @batch))
            """, new { cutoff, batch = options.RetentionBatchSize }, options.RetentionBatchSize, cancellationToken);
        if (total > 0) Logger.LogInformation("Delivery retention deleted {Deliveries} deliveries completed more than {Days} days ago", total, options.DeliveryRetentionDays);
    }
}
