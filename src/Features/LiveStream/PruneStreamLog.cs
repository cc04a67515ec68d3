using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Jobs;
using Service.Infrastructure.Streaming;

namespace Service.Features.LiveStream;

/// <summary>
/// Every Stream:RetentionIntervalSeconds, on one instance at a time: deletes stream events older than the replay
/// window (clients that far behind get stream.reset anyway) and tickets that expired unused.
/// </summary>
public sealed class PruneStreamLog(IServiceProvider services, TimeProvider time, ILogger<PruneStreamLog> logger)
    : PeriodicJob(services, time, logger)
{
    private const int BatchSize = 5000;

    protected override string Name => "stream.retention";
    protected override string Title => "Stream log retention";

    private StreamOptions Options => Services.GetRequiredService<IOptions<StreamOptions>>().Value;

    protected override TimeSpan ReadInterval() => TimeSpan.FromSeconds(Options.RetentionIntervalSeconds);

    protected override async Task RunLockedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // An hour past the window: a resume judged "within 24 h" still finds every event it needs.
        var cutoff = Time.GetUtcNow().UtcDateTime - TimeSpan.FromHours(Options.ReplayHours + 1);
        var (total, _) = await DeleteInBatchesAsync(connection, """
            DELETE FROM stream_events WHERE (user_id, seq) IN (
                SELECT user_id, seq FROM stream_events WHERE created_at < @cutoff LIMIT @batch)
            """, new { cutoff, batch = BatchSize }, BatchSize, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM stream_tickets WHERE expires_at < now()", cancellationToken: cancellationToken));
        if (total > 0) Logger.LogInformation("Stream log retention deleted {Events} events older than {Hours} h", total, Options.ReplayHours + 1);
    }
}
