using System.Data.Common;
using System.Security.Claims;
using System.Text.Json;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Database;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

/// <summary>What the workflow slices need, bundled as one parameter.</summary>
public sealed record WorkflowServices(NpgsqlDataSource DataSource, AuditLog Audit, WorkflowVersions Versions, TimeProvider Time);

/// <summary>A workflow as members see it. The definition is left out of lists; GET .../{id} carries it, with its ETag.</summary>
public sealed record WorkflowResponse(
    Guid Id, string Name, string? Description, bool Enabled, int Version, string TriggerType, DateTimeOffset? NextFireAt,
    Guid CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, WorkflowDefinition? Definition);

public sealed class WorkflowRow
{
    public const string Columns = """
        w.id, w.org_id AS OrgId, w.name, w.enabled, w.version, w.trigger_type AS TriggerType, w.next_fire_at AS NextFireAt, w.created_by AS CreatedBy,
        w.created_at AS CreatedAt, w.updated_at AS UpdatedAt, v.definition::text AS Definition
        """;

    public const string From = "workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version";

    public Guid Id { get; init; }
    public Guid OrgId { get; init; }
    public string Name { get; init; } = "";
    public bool Enabled { get; init; }
    public int Version { get; init; }
    public string TriggerType { get; init; } = "";
    public DateTime? NextFireAt { get; init; }
    public Guid CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
    public string Definition { get; init; } = "{}";

    /// <summary>A strong validator for If-Match: the version, bumped by every save.</summary>
    public string ETag => $"\"{Version}\"";

    public WorkflowDefinition ParsedDefinition => JsonSerializer.Deserialize<WorkflowDefinition>(Definition, JsonSerializerOptions.Web)!;

    public WorkflowResponse ToResponse(bool withDefinition = true)
    {
        var definition = ParsedDefinition;
        return new WorkflowResponse(Id, Name, definition.Description, Enabled, Version, TriggerType, NextFireAt.AsUtc(), CreatedBy, CreatedAt.AsUtc(),
            UpdatedAt.AsUtc(), withDefinition ? definition : null);
    }

    /// <summary>The organization's live workflow, optionally locked for a change in <paramref name="transaction"/>.</summary>
    public static Task<WorkflowRow?> FindAsync(DbConnection connection, Guid orgId, Guid id, DbTransaction? transaction, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<WorkflowRow>(new CommandDefinition(
            $"SELECT {Columns} FROM {From} WHERE w.id = @id AND w.org_id = @orgId AND w.deleted_at IS NULL" + (transaction is null ? "" : " FOR UPDATE OF w"),
            new { id, orgId }, transaction, cancellationToken: cancellationToken));
}

public static class WorkflowProblems
{
    public static ProblemHttpResult NotFound() =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such workflow", detail: "The workflow does not exist or was deleted.");

    public static ProblemHttpResult RunNotFound() =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such run", detail: "The run does not exist, or was deleted by retention.");
}

/// <summary>Where a schedule stands after a save or an enable: its next fire from now, or none.</summary>
public static class NextFire
{
    public static DateTimeOffset? After(CompiledWorkflow workflow, bool enabled, DateTimeOffset now) =>
        enabled && workflow.Schedule is { } schedule ? schedule.NextAfter(now) : null;
}

/// <summary>What enable and disable share: the change, the schedule's next fire, and the audit entry.</summary>
public static class WorkflowSwitch
{
    public static async Task<Results<Ok<WorkflowResponse>, ProblemHttpResult>> SetAsync(
        Guid orgId, Guid workflowId, bool enabled, ClaimsPrincipal user, WorkflowServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await WorkflowRow.FindAsync(connection, orgId, workflowId, transaction, cancellationToken) is not { } row) return WorkflowProblems.NotFound();
        if (row.Enabled != enabled)
        {
            var compiled = services.Versions.Remember(row.Id, row.Version, row.Definition);
            var nextFire = compiled is null ? null : NextFire.After(compiled, enabled, services.Time.GetUtcNow());
            await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE workflows SET enabled = @enabled, next_fire_at = @nextFire, updated_at = now() WHERE id = @workflowId;
                DELETE FROM workflow_debounces WHERE workflow_id = @workflowId AND NOT @enabled;
                """, new { workflowId, enabled, nextFire = nextFire?.UtcDateTime }, transaction, cancellationToken: cancellationToken));
            await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId,
                enabled ? "workflow.enabled" : "workflow.disabled", "workflow", workflowId.ToString(), new { name = row.Name, version = row.Version }), cancellationToken);
            row = (await WorkflowRow.FindAsync(connection, orgId, workflowId, transaction, cancellationToken))!;
        }
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(row.ToResponse());
    }
}
