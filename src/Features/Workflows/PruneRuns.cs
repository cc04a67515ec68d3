using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Jobs;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

/// <summary>
/// Every Workflows:RetentionIntervalSeconds, on one instance at a time: deletes finished runs (with their steps)
/// older than Workflows:RunRetentionDays, then those beyond the newest Workflows:KeepRunsPerWorkflow of each
/// workflow, and schedule fires as old as the oldest kept runs. Unfinished runs are never touched.
/// </summary>
public sealed class PruneRuns(IServiceProvider services, TimeProvider time, ILogger<PruneRuns> logger) : PeriodicJob(services, time, logger)
{
    private const int BatchSize = 2000;

    protected override string Name => "workflows.retention";
    protected override string Title => "Run retention";

    private WorkflowOptions Options => Services.GetRequiredService<IOptions<WorkflowOptions>>().Value;

    protected override TimeSpan ReadInterval() => TimeSpan.FromSeconds(Options.RetentionIntervalSeconds);

    protected override async Task RunLockedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var options = Options;
        var cutoff = Time.GetUtcNow().UtcDateTime - TimeSpan.FromDays(options.RunRetentionDays);
        var (byAge, _) = await DeleteInBatchesAsync(connection, """
            DELETE FROM workflow_runs WHERE id IN (
                SELECT id FROM workflow_runs WHERE finished_at < @cutoff LIMIT @batch)
            """, new { cutoff, batch = BatchSize }, BatchSize, cancellationToken);
        var (byCount, _) = await DeleteInBatchesAsync(connection, """
            DELETE FROM workflow_runs WHERE id IN (
                SELECT id FROM (
                    SELECT id, row_number() OVER (PARTITION BY workflow_id ORDER BY created_at DESC, id DESC) AS newest
                    FROM workflow_runs WHERE finished_at IS NOT NULL) ranked
                WHERE newest > @keep LIMIT @batch)
            """, new { keep = options.KeepRunsPerWorkflow, batch = BatchSize }, BatchSize, cancellationToken);
        await DeleteInBatchesAsync(connection, """
            DELETE FROM workflow_fires WHERE (workflow_id, scheduled_for) IN (
                SELECT workflow_id, scheduled_for FROM workflow_fires WHERE scheduled_for < @cutoff LIMIT @batch)
            """, new { cutoff, batch = BatchSize }, BatchSize, cancellationToken);
        if (byAge + byCount > 0)
        {
            Logger.LogInformation("Run retention deleted {Runs} runs older than {Days} days and {Extra} beyond {Keep} per workflow",
                byAge, options.RunRetentionDays, byCount, options.KeepRunsPerWorkflow);
        }
    }
}
