using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Jobs;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// Fires schedules, on every instance. Due workflows are locked with FOR UPDATE SKIP LOCKED, so each is handled by one
/// instance at a time; each fire is a row of workflow_fires whose primary key (workflow, time) makes a second run of
/// the same fire impossible, whatever the instances do. Fires missed while no instance ran are run if within
/// Workflows:MisfireGraceSeconds, and recorded as skipped otherwise; with the Workflows kill switch off they are
/// recorded as skipped. The scheduler sleeps until the next fire is due (at most a second), so fires start on time.
/// </summary>
public sealed partial class WorkflowScheduler(IServiceProvider services, ILogger<WorkflowScheduler> logger) : BackgroundService
{
    private const int MaxWorkflowsPerRound = 200;
    private const int MaxFiresPerWorkflow = 1000;
    private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MinSleep = TimeSpan.FromMilliseconds(5);

    private sealed record DueWorkflow(Guid Id, Guid OrgId, int Version, DateTime NextFireAt, string Definition, DateTime Now);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        var options = services.GetRequiredService<IOptions<WorkflowOptions>>().Value;
        var features = services.GetRequiredService<IFeatureManager>();
        var versions = services.GetRequiredService<WorkflowVersions>();
        var time = services.GetRequiredService<TimeProvider>();
        await PollingLoop.RunAsync("Schedules", async cancellationToken =>
        {
            var enabled = await features.IsEnabledAsync(FeatureFlagCatalog.Workflows.Name);
            var (handled, nextDue) = await RoundAsync(dataSource, versions, options, enabled, cancellationToken);
            if (handled == MaxWorkflowsPerRound) return TimeSpan.Zero;
            var untilDue = (nextDue ?? DateTimeOffset.MaxValue) - time.GetUtcNow();
            // At least a moment: a due workflow another instance has locked is not ours to spin on.
            return untilDue < MinSleep ? MinSleep : untilDue < MaxSleep ? untilDue : MaxSleep;
        }, MaxSleep, logger, stoppingToken);
    }

    private async Task<(int Handled, DateTimeOffset? NextDue)> RoundAsync(NpgsqlDataSource dataSource, WorkflowVersions versions, WorkflowOptions options, bool enabled, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        int handled;
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            var due = (await connection.QueryAsync<DueWorkflow>(new CommandDefinition("""
                SELECT w.id, w.org_id AS OrgId, w.version, w.next_fire_at AS NextFireAt, v.definition::text AS Definition, now() AS Now
                FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version
                WHERE w.enabled AND w.deleted_at IS NULL AND w.trigger_type = 'schedule' AND w.next_fire_at <= now()
                ORDER BY w.next_fire_at
                LIMIT @limit
                FOR UPDATE OF w SKIP LOCKED
                """, new { limit = MaxWorkflowsPerRound }, transaction, cancellationToken: cancellationToken))).AsList();
            handled = due.Count;
            foreach (var workflow in due)
            {
                var compiled = versions.Remember(workflow.Id, workflow.Version, workflow.Definition);
                var now = workflow.Now.AsUtc();
                if (compiled?.Schedule is not { } schedule)
                {
                    await SetNextFireAsync(connection, transaction, workflow.Id, null, cancellationToken);
                    continue;
                }
                var first = workflow.NextFireAt.AsUtc();
                var fires = schedule.Between(first, now, MaxFiresPerWorkflow - 1).Prepend(first).ToList();
                var skipped = 0;
                string? lastReason = null;
                foreach (var fire in fires)
                {
                    var reason = !enabled ? "kill_switch" : now - fire > TimeSpan.FromSeconds(options.MisfireGraceSeconds) ? "misfire" : null;
                    await FireAsync(connection, transaction, workflow, compiled, fire, now, reason, cancellationToken);
                    if (reason is not null) (skipped, lastReason) = (skipped + 1, reason);
                }
                if (skipped > 0) LogSkipped(logger, workflow.Id, skipped, lastReason!);
                await SetNextFireAsync(connection, transaction, workflow.Id, schedule.NextAfter(fires[^1]), cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        var next = await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
            "SELECT min(next_fire_at) FROM workflows WHERE enabled AND deleted_at IS NULL AND trigger_type = 'schedule'", cancellationToken: cancellationToken));
        return (handled, next?.AsUtc());
    }

    /// <summary>Records the fire (once: the key refuses a second) and, unless it is skipped, queues its run.</summary>
    private static async Task FireAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DueWorkflow workflow,
        CompiledWorkflow compiled, DateTimeOffset fire, DateTimeOffset now, string? skipReason, CancellationToken cancellationToken)
    {
        var recorded = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO workflow_fires (workflow_id, scheduled_for, outcome, reason) VALUES (@Id, @fire, @outcome, @skipReason)
            ON CONFLICT (workflow_id, scheduled_for) DO NOTHING
            """, new { workflow.Id, fire = fire.UtcDateTime, outcome = skipReason is null ? "run" : "skipped", skipReason }, transaction, cancellationToken: cancellationToken));
        if (recorded == 0 || skipReason is not null) return;
        var triggerData = new JsonObject { ["type"] = WorkflowTriggerTypes.Schedule, ["scheduledFor"] = fire, ["firedAt"] = now };
        var queued = await RunQueue.EnqueueAsync(connection, transaction,
            new NewRun(workflow.OrgId, workflow.Id, workflow.Version, WorkflowTriggerTypes.Schedule, triggerData, null, compiled.RunTimeout, ScheduledFor: fire),
            cancellationToken);
        if (queued is not { } runId) return;
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE workflow_fires SET run_id = @runId WHERE workflow_id = @Id AND scheduled_for = @fire",
            new { runId, workflow.Id, fire = fire.UtcDateTime }, transaction, cancellationToken: cancellationToken));
    }

    private static Task SetNextFireAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, DateTimeOffset? next, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("UPDATE workflows SET next_fire_at = @next WHERE id = @id",
            new { id, next = next?.UtcDateTime }, transaction, cancellationToken: cancellationToken));

    [LoggerMessage(LogLevel.Warning, "Workflow {WorkflowId}: {Fires} fires recorded as skipped ({Reason})")]
    private static partial void LogSkipped(ILogger logger, Guid workflowId, int fires, string reason);
}
