using Dapper;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using Microsoft.FeatureManagement.FeatureFilters;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Jobs;
using Service.Infrastructure.Observability;

namespace Service.Infrastructure.Patterns;

/// <summary>
/// Runs each organization's detection when it is due (every <see cref="PatternOptions.DetectIntervalSeconds"/>) or
/// asked for (POST .../patterns/detect wakes every instance through NOTIFY). Every instance looks; the advisory lock of
/// <see cref="PatternDetection"/> lets one run per organization at a time. Only for organizations the Suggestions flag reaches.
/// </summary>
public sealed class PatternDetector(IServiceProvider services, IOptions<PatternOptions> options, ILogger<PatternDetector> logger) : BackgroundService
{
    public const string WakeChannel = "patterns_detect";
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);
    // A run that has been "running" this long died with its instance; its organization is due again.
    private static readonly TimeSpan StaleRun = TimeSpan.FromMinutes(10);
    private readonly SemaphoreSlim _wake = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        var detection = services.GetRequiredService<PatternDetection>();
        var features = services.GetRequiredService<IFeatureManager>();
        _ = DatabaseWakeups.ListenAsync(dataSource, WakeChannel, () => _wake.Release(), PollInterval, logger, stoppingToken);
        await PollingLoop.RunAsync("Pattern detection", async cancellationToken =>
        {
            await _wake.WaitAsync(PollInterval, cancellationToken);
            while (_wake.CurrentCount > 0) await _wake.WaitAsync(cancellationToken);
            List<Guid> due;
            await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
            {
                due = (await connection.QueryAsync<Guid>(new CommandDefinition("""
                SELECT o.id FROM organizations o LEFT JOIN pattern_state s ON s.org_id = o.id
                WHERE o.deleted_at IS NULL
                  AND (s.org_id IS NULL OR s.requested_at IS NOT NULL OR s.started_at < now() - make_interval(secs => @interval))
                  AND (s.status IS DISTINCT FROM 'running' OR s.requested_at IS NOT NULL OR s.started_at < now() - make_interval(secs => @stale))
                ORDER BY s.requested_at NULLS LAST, s.started_at NULLS FIRST
                LIMIT 50
                """, new { interval = (double)options.Value.DetectIntervalSeconds, stale = StaleRun.TotalSeconds }, cancellationToken: cancellationToken))).ToList();
            }
            foreach (var orgId in due)
            {
                // Per organization: a targeted rollout detects for the organizations it reaches.
                if (!await features.IsEnabledAsync(FeatureFlagCatalog.Suggestions.Name, new TargetingContext { Groups = [orgId.ToString()] })) continue;
                using var activity = ServiceDiagnostics.StartJob("patterns.detect");
                try
                {
                    await detection.RunAsync(orgId, cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    ServiceDiagnostics.JobFailed("patterns.detect", activity, e);
                    logger.LogError(e, "Pattern detection for organization {OrgId} failed", orgId);
                }
            }
            return TimeSpan.Zero;
        }, PollInterval, logger, stoppingToken);
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
