using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Jobs;

namespace Service.Features.Notifications;

/// <summary>Every Notifications:RetentionIntervalSeconds, on one instance at a time: deletes notifications older than Notifications:RetentionDays, in batches.</summary>
public sealed class PruneNotifications(IServiceProvider services, TimeProvider time, ILogger<PruneNotifications> logger)
    : PeriodicJob(services, time, logger)
{
    private const int BatchSize = 5000;

    protected override string Name => "notifications.retention";
    protected override string Title => "Notification retention";

    private NotificationOptions Options => Services.GetRequiredService<IOptions<NotificationOptions>>().Value;

    protected override TimeSpan ReadInterval() => TimeSpan.FromSeconds(Options.RetentionIntervalSeconds);

    protected override async Task RunLockedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var days = Options.RetentionDays;
        var cutoff = Time.GetUtcNow().UtcDateTime - TimeSpan.FromDays(days);
        var (total, _) = await DeleteInBatchesAsync(connection, """
            DELETE FROM notifications WHERE (user_id, id) IN (
                SELECT user_id, id FROM notifications WHERE created_at < @cutoff LIMIT @batch)
            """, new { cutoff, batch = BatchSize }, BatchSize, cancellationToken);
        if (total > 0) Logger.LogInformation("Notification retention deleted {Notifications} notifications older than {Days} days", total, days);
    }
}
