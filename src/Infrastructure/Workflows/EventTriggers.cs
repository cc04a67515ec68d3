using System.Data.Common;
using System.Text.Json;
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
/// Starts event-triggered workflows, off the request path. Ingest hands each batch's event ids over in its own
/// transaction (<see cref="HandOverAsync"/>, one cheap statement, only when the org has an enabled event workflow);
/// any instance then claims handed-over batches, matches their events against the org's workflows (types, path glob,
/// tool, source, then the condition per event) and queues runs, or gathers them in a debounce window that starts one
/// run carrying the burst. Claiming, matching and queuing commit together, so a batch is matched exactly once.
/// With the Workflows kill switch off, handed-over events are dropped (counted in the log), like skipped fires.
/// </summary>
public sealed partial class EventTriggers(IServiceProvider services, ILogger<EventTriggers> logger) : BackgroundService
{
    private const int BatchesPerRound = 100;
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    /// <summary>In the ingest transaction: the new events, for the matcher, if any enabled workflow of the org listens to events.</summary>
    public static Task HandOverAsync(DbConnection connection, DbTransaction transaction, Guid orgId, Guid[] eventIds, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO workflow_event_batches (org_id, event_ids)
            SELECT @orgId, @eventIds
            WHERE EXISTS (SELECT 1 FROM workflows WHERE org_id = @orgId AND enabled AND deleted_at IS NULL AND trigger_type = 'event')
            """, new { orgId, eventIds }, transaction, cancellationToken: cancellationToken));

    private sealed record EventWorkflow(Guid Id, Guid OrgId, int Version, string Definition);

    private sealed record EventRow(Guid Id, Guid OrgId, string Type, string Path, string? Tool, string SourceType, Guid SourceId, DateTime OccurredAt,
        long? DurationMs, string? Metadata);

    private sealed record DueDebounce(Guid WorkflowId, Guid OrgId, int Version, string Events, int EventCount, bool Enabled);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        var options = services.GetRequiredService<IOptions<WorkflowOptions>>().Value;
        var features = services.GetRequiredService<IFeatureManager>();
        var versions = services.GetRequiredService<WorkflowVersions>();
        await PollingLoop.RunAsync("Event triggers", async cancellationToken =>
        {
            var enabled = await features.IsEnabledAsync(FeatureFlagCatalog.Workflows.Name);
            var claimed = await RoundAsync(dataSource, versions, options, enabled, cancellationToken);
            return claimed == BatchesPerRound ? TimeSpan.Zero : Poll;
        }, Poll, logger, stoppingToken);
    }

    private async Task<int> RoundAsync(NpgsqlDataSource dataSource, WorkflowVersions versions, WorkflowOptions options, bool enabled,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var batches = (await connection.QueryAsync<(Guid OrgId, Guid[] EventIds)>(new CommandDefinition("""
            DELETE FROM workflow_event_batches WHERE id IN (
                SELECT id FROM workflow_event_batches ORDER BY id LIMIT @limit FOR UPDATE SKIP LOCKED)
            RETURNING org_id, event_ids
            """, new { limit = BatchesPerRound }, transaction, cancellationToken: cancellationToken))).AsList();
        if (batches.Count > 0 && !enabled)
        {
            LogDropped(logger, batches.Sum(b => b.EventIds.Length));
        }
        else if (batches.Count > 0)
        {
            await MatchAsync(connection, transaction, versions, options, batches, cancellationToken);
        }
        await FireDebouncesAsync(connection, transaction, versions, options, enabled, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return batches.Count;
    }

    private static async Task MatchAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, WorkflowVersions versions,
        WorkflowOptions options, List<(Guid OrgId, Guid[] EventIds)> batches, CancellationToken cancellationToken)
    {
        var orgs = batches.Select(b => b.OrgId).Distinct().ToArray();
        var workflows = (await connection.QueryAsync<EventWorkflow>(new CommandDefinition("""
            SELECT w.id, w.org_id AS OrgId, w.version, v.definition::text AS Definition
            FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version
            WHERE w.org_id = ANY(@orgs) AND w.enabled AND w.deleted_at IS NULL AND w.trigger_type = 'event'
            """, new { orgs }, transaction, cancellationToken: cancellationToken))).ToLookup(w => w.OrgId);
        var rows = (await connection.QueryAsync<EventRow>(new CommandDefinition("""
            SELECT id, org_id AS OrgId, type, path, tool, source_type AS SourceType, source_id AS SourceId, occurred_at AS OccurredAt,
                   duration_ms AS DurationMs, metadata::text AS Metadata
            FROM events WHERE org_id = ANY(@orgs) AND id = ANY(@ids)
            ORDER BY occurred_at, id
            """, new { orgs, ids = batches.SelectMany(b => b.EventIds).ToArray() }, transaction, cancellationToken: cancellationToken))).ToLookup(e => e.OrgId);

        foreach (var org in orgs)
        {
            foreach (var workflow in workflows[org])
            {
                if (versions.Remember(workflow.Id, workflow.Version, workflow.Definition) is not { } compiled || compiled.Definition.Trigger is not { } trigger) continue;
                var matched = rows[org].Where(e => Matches(trigger, e)).Select(ToJson)
                    .Where(e => compiled.Condition is not { } condition || condition.Test(RunScope.Create(new JsonObject { ["events"] = new JsonArray(e.DeepClone()) }, null, [])).Value)
                    .ToList();
                if (matched.Count == 0) continue;
                if (trigger.DebounceSeconds is > 0 and var debounce)
                {
                    await GatherAsync(connection, transaction, workflow, matched, debounce, options, cancellationToken);
                    continue;
                }
                foreach (var e in matched)
                {
                    var data = new JsonObject { ["type"] = WorkflowTriggerTypes.Event, ["eventCount"] = 1, ["events"] = new JsonArray(e) };
                    await RunQueue.EnqueueAsync(connection, transaction,
                        new NewRun(org, workflow.Id, workflow.Version, WorkflowTriggerTypes.Event, data, null, compiled.RunTimeout), cancellationToken);
                }
            }
        }
    }

    private static bool Matches(WorkflowTrigger trigger, EventRow e) =>
        (trigger.EventTypes ?? []).Contains(e.Type)
        && (trigger.PathGlob is null || PathGlob.IsMatch(trigger.PathGlob, e.Path))
        && (trigger.Tool is null || trigger.Tool == e.Tool)
        && (trigger.Source is null || Guid.TryParse(trigger.Source, out var source) && source == e.SourceId);

    /// <summary>An event as conditions and templates see it.</summary>
    public static JsonObject ToJson(EventRowView e) => new()
    {
        ["id"] = e.Id.ToString(), ["type"] = e.Type, ["path"] = e.Path, ["tool"] = e.Tool, ["occurredAt"] = e.OccurredAt,
        ["durationMs"] = e.DurationMs, ["metadata"] = e.Metadata is null ? null : JsonNode.Parse(e.Metadata),
        ["sourceType"] = e.SourceType, ["source"] = e.SourceId.ToString(),
    };

    private static JsonObject ToJson(EventRow e) =>
        ToJson(new EventRowView(e.Id, e.Type, e.Path, e.Tool, e.SourceType, e.SourceId, e.OccurredAt.AsUtc(), e.DurationMs, e.Metadata));

    /// <summary>Adds matched events to the workflow's open window, or opens one that closes debounce seconds from now.</summary>
    private static Task GatherAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, EventWorkflow workflow, List<JsonObject> matched, int debounceSeconds,
        WorkflowOptions options, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO workflow_debounces (workflow_id, org_id, version, events, event_count, fire_at)
            VALUES (@Id, @OrgId, @Version, @events::jsonb, @count, now() + make_interval(secs => @debounceSeconds))
            ON CONFLICT (workflow_id) DO UPDATE SET
                events = CASE WHEN jsonb_array_length(workflow_debounces.events) >= @max THEN workflow_debounces.events
                              ELSE workflow_debounces.events || excluded.events END,
                event_count = workflow_debounces.event_count + excluded.event_count
            """,
            new
            {
                workflow.Id, workflow.OrgId, workflow.Version, count = matched.Count, debounceSeconds, max = options.MaxEventsPerRun,
                events = new JsonArray(matched.Take(options.MaxEventsPerRun).Select(e => (JsonNode)e).ToArray()).ToJsonString(),
            }, transaction, cancellationToken: cancellationToken));

    /// <summary>Windows that have closed start their run (unless the workflow was disabled or deleted meanwhile).</summary>
    private static async Task FireDebouncesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, WorkflowVersions versions,
        WorkflowOptions options, bool enabled, CancellationToken cancellationToken)
    {
        var due = (await connection.QueryAsync<DueDebounce>(new CommandDefinition("""
            WITH closed AS (
                DELETE FROM workflow_debounces WHERE workflow_id IN (
                    SELECT workflow_id FROM workflow_debounces WHERE fire_at <= now() ORDER BY fire_at LIMIT 100 FOR UPDATE SKIP LOCKED)
                RETURNING workflow_id, org_id, version, events, event_count
            )
            SELECT c.workflow_id AS WorkflowId, c.org_id AS OrgId, c.version, c.events::text AS Events, c.event_count AS EventCount,
                   w.enabled AND w.deleted_at IS NULL AS Enabled
            FROM closed c JOIN workflows w ON w.id = c.workflow_id
            """, transaction: transaction, cancellationToken: cancellationToken))).AsList();
        foreach (var window in due.Where(d => d.Enabled && enabled))
        {
            if (await versions.GetAsync(connection, window.WorkflowId, window.Version, cancellationToken) is not { } compiled) continue;
            var gathered = JsonNode.Parse(window.Events) as JsonArray ?? [];
            var kept = new JsonArray(gathered.Take(options.MaxEventsPerRun).Select(e => e!.DeepClone()).ToArray());
            var data = new JsonObject { ["type"] = WorkflowTriggerTypes.Event, ["eventCount"] = window.EventCount, ["events"] = kept };
            await RunQueue.EnqueueAsync(connection, transaction,
                new NewRun(window.OrgId, window.WorkflowId, window.Version, WorkflowTriggerTypes.Event, data, null, compiled.RunTimeout), cancellationToken);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Workflows are switched off: {Events} ingested events were not matched against event triggers")]
    private static partial void LogDropped(ILogger logger, int events);
}

/// <summary>An event as the matcher and the validate dry run hand it to conditions and templates.</summary>
public sealed record EventRowView(Guid Id, string Type, string Path, string? Tool, string SourceType, Guid SourceId, DateTimeOffset OccurredAt,
    long? DurationMs, string? Metadata);
