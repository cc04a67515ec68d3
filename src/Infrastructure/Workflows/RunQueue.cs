using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Service.Infrastructure.Database;
using Service.Infrastructure.Streaming;

namespace Service.Infrastructure.Workflows;

public static class RunStatuses
{
    public const string Queued = "queued", Running = "running", Succeeded = "succeeded", Failed = "failed", Cancelled = "cancelled", TimedOut = "timed_out";
    public static readonly string[] All = [Queued, Running, Succeeded, Failed, Cancelled, TimedOut];
    public static readonly string[] Final = [Succeeded, Failed, Cancelled, TimedOut];
}

/// <summary>A run to queue: which version of which workflow, why, with what.</summary>
public sealed record NewRun(Guid OrgId, Guid WorkflowId, int Version, string TriggerType, JsonObject TriggerData, JsonNode? Input, TimeSpan Timeout,
    Guid? CreatedBy = null, DateTimeOffset? ScheduledFor = null, Guid? RetryOf = null, int NextStep = 0);

/// <summary>What run.updated carries on the live stream: enough for a list row to update itself.</summary>
public sealed record RunUpdate(Guid RunId, Guid WorkflowId, int Version, string Status, string TriggerType, DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? ErrorClass);

/// <summary>
/// The durable queue of runs in PostgreSQL. Runs are queued in the caller's transaction (with the change or fire
/// that caused them); any instance's <see cref="RunWorker"/> claims them. The NOTIFY, delivered at commit, wakes
/// workers at once.
/// </summary>
public static class RunQueue
{
    public const string Channel = "workflow_runs";

    /// <summary>The run's id, or null when it already exists (a schedule's fire queued by another instance).</summary>
    public static async Task<Guid?> EnqueueAsync(DbConnection connection, DbTransaction transaction, NewRun run,
        CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        var createdAt = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition($"""
            INSERT INTO workflow_runs (id, org_id, workflow_id, version, trigger_type, scheduled_for, trigger_data, input, timeout_seconds, created_by, retry_of, next_step)
            VALUES (@id, @OrgId, @WorkflowId, @Version, @TriggerType, @ScheduledFor, @triggerData::jsonb, @input::jsonb, @timeout, @CreatedBy, @RetryOf, @NextStep)
            ON CONFLICT (workflow_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING
            RETURNING created_at;
            SELECT pg_notify('{Channel}', '');
            """,
            new
            {
                id, run.OrgId, run.WorkflowId, run.Version, run.TriggerType, ScheduledFor = run.ScheduledFor?.UtcDateTime, triggerData = run.TriggerData.ToJsonString(),
                input = run.Input?.ToJsonString(), timeout = (int)run.Timeout.TotalSeconds, run.CreatedBy, run.RetryOf, run.NextStep,
            }, transaction, cancellationToken: cancellationToken));
        if (createdAt is null) return null;
        var update = new RunUpdate(id, run.WorkflowId, run.Version, RunStatuses.Queued, run.TriggerType, createdAt.Value.AsUtc(), null, null, null);
        await AnnounceAsync(connection, transaction, run.OrgId, update, cancellationToken);
        return id;
    }

    /// <summary>
    /// run.updated for the organization's members, queued in the caller's transaction and numbered into their streams
    /// by the <see cref="StreamOutbox"/> moments after the commit: a busy organization's runs must not wait on each
    /// other's commits to take their members' stream numbers. Nothing is left to publish after the commit.
    /// </summary>
    public static Task AnnounceAsync(DbConnection connection, DbTransaction transaction, Guid orgId, RunUpdate update, CancellationToken cancellationToken) =>
        StreamOutbox.QueueForOrgAsync(connection, transaction, orgId, StreamEventTypes.RunUpdated, JsonSerializer.Serialize(update, JsonSerializerOptions.Web), cancellationToken);
}
