using System.Data.Common;
using System.Text.Json;
using Dapper;
using Service.Infrastructure.Database;
using Service.Infrastructure.Http;

namespace Service.Features.Workflows;

/// <summary>A run as members see it; <see cref="Steps"/> only in GET .../runs/{runId}.</summary>
public sealed record RunResponse(
    Guid Id, Guid WorkflowId, int Version, string Status, string TriggerType, DateTimeOffset? ScheduledFor, JsonElement Trigger, JsonElement? Input,
    int NextStep, string? ErrorClass, string? Error, DateTimeOffset? CancelRequestedAt, Guid? RetryOf, Guid? CreatedBy,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, IReadOnlyList<RunStepResponse>? Steps);

/// <param name="Status">waiting (a delay, or a retry's wait), succeeded, failed, skipped, cancelled or timed_out.</param>
public sealed record RunStepResponse(int Index, string Name, string Type, string Status, int Attempts, JsonElement? Input, JsonElement? Output,
    string? ErrorClass, string? Error, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

public sealed class RunRow
{
    public const string Columns = """
        r.id, r.org_id AS OrgId, r.workflow_id AS WorkflowId, r.version, r.status, r.trigger_type AS TriggerType, r.scheduled_for AS ScheduledFor,
        r.trigger_data::text AS TriggerData, r.input::text AS Input, r.next_step AS NextStep, r.error_class AS ErrorClass, r.error,
        r.cancel_requested_at AS CancelRequestedAt, r.retry_of AS RetryOf, r.created_by AS CreatedBy, r.created_at AS CreatedAt,
        r.started_at AS StartedAt, r.finished_at AS FinishedAt, r.timeout_seconds AS TimeoutSeconds,
        coalesce(r.lease_owner IS NOT NULL AND r.lease_expires_at > now(), false) AS Held
        """;

    public Guid Id { get; init; }
    public Guid OrgId { get; init; }
    public Guid WorkflowId { get; init; }
    public int Version { get; init; }
    public string Status { get; init; } = "";
    public string TriggerType { get; init; } = "";
    public DateTime? ScheduledFor { get; init; }
    public string TriggerData { get; init; } = "{}";
    public string? Input { get; init; }
    public int NextStep { get; init; }
    public string? ErrorClass { get; init; }
    public string? Error { get; init; }
    public DateTime? CancelRequestedAt { get; init; }
    public Guid? RetryOf { get; init; }
    public Guid? CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime? StartedAt { get; init; }
    public DateTime? FinishedAt { get; init; }
    public int TimeoutSeconds { get; init; }
    /// <summary>A worker holds the run now (by the database's clock): a cancel must reach that worker.</summary>
    public bool Held { get; init; }

    public RunResponse ToResponse(IReadOnlyList<RunStepResponse>? steps = null) => new(
        Id, WorkflowId, Version, Status, TriggerType, ScheduledFor.AsUtc(), Parse(TriggerData)!.Value, Parse(Input), NextStep, ErrorClass, Error,
        CancelRequestedAt.AsUtc(), RetryOf, CreatedBy, CreatedAt.AsUtc(), StartedAt.AsUtc(), FinishedAt.AsUtc(), steps);

    public static JsonElement? Parse(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();
}

/// <summary>How the run slices read runs: one run, or a filtered page of them.</summary>
public static class RunQueries
{
    public static string Location(Guid orgId, Guid runId) => $"/api/v1/orgs/{orgId}/workflows/runs/{runId}";

    public static Task<RunRow?> FindAsync(DbConnection connection, Guid orgId, Guid runId, DbTransaction? transaction, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<RunRow>(new CommandDefinition(
            $"SELECT {RunRow.Columns} FROM workflow_runs r WHERE r.id = @runId AND r.org_id = @orgId" + (transaction is null ? "" : " FOR UPDATE"),
            new { runId, orgId }, transaction, cancellationToken: cancellationToken));

    /// <summary>A page of the organization's runs, newest first, optionally of one workflow, in one status, within a time range.</summary>
    public static async Task<Page<RunResponse>> ListAsync(DbConnection connection, Guid orgId, Guid? workflowId, ListRunsFilter filter, PageRequest page,
        CancellationToken cancellationToken)
    {
        var rows = (await connection.QueryAsync<RunRow>(new CommandDefinition($"""
            SELECT {RunRow.Columns} FROM workflow_runs r
            WHERE r.org_id = @orgId AND (@workflowId::uuid IS NULL OR r.workflow_id = @workflowId)
              AND (@Status::text IS NULL OR r.status = @Status)
              AND (@From::timestamptz IS NULL OR r.created_at >= @From) AND (@To::timestamptz IS NULL OR r.created_at < @To)
              AND (@AfterAt::timestamptz IS NULL OR (r.created_at, r.id) < (@AfterAt, @AfterId))
            ORDER BY r.created_at DESC, r.id DESC
            LIMIT @Take
            """, new { orgId, workflowId, filter.Status, From = filter.From?.UtcDateTime, To = filter.To?.UtcDateTime, page.AfterAt, page.AfterId, page.Take },
            cancellationToken: cancellationToken))).AsList();
        return page.ToPage(rows, r => (r.CreatedAt, r.Id), r => r.ToResponse());
    }

    /// <summary>The filters both run lists take, checked: a known status, from before to.</summary>
    public static ListRunsFilter? ReadFilter(string? status, DateTimeOffset? from, DateTimeOffset? to, Dictionary<string, string[]> errors)
    {
        if (status is not null && !Infrastructure.Workflows.RunStatuses.All.Contains(status)) errors["status"] = [$"One of {string.Join(", ", Infrastructure.Workflows.RunStatuses.All)}."];
        if (from is not null && to is not null && from >= to) errors["to"] = ["Must be after from."];
        return errors.Count > 0 ? null : new ListRunsFilter(status, from, to);
    }
}

public sealed record ListRunsFilter(string? Status, DateTimeOffset? From, DateTimeOffset? To);
