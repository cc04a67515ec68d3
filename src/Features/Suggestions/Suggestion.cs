using System.Data.Common;
using System.Text.Json;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Caching;

namespace Service.Features.Suggestions;

/// <summary>What the suggestion slices need, bundled as one parameter.</summary>
public sealed record SuggestionServices(NpgsqlDataSource DataSource, OrgReadCache Cache, AuditLog Audit, TimeProvider Time);

public static class SuggestionStatuses
{
    public const string New = "new", Accepted = "accepted", Dismissed = "dismissed", Snoozed = "snoozed";
    public static readonly string[] All = [New, Accepted, Dismissed, Snoozed];
}

/// <param name="Status">new, accepted, dismissed or snoozed (a snooze that has passed reads as new again).</param>
/// <param name="Score">0-100 from confidence, support in days and recency.</param>
/// <param name="Evidence">The pattern's figures, steps and example event ids.</param>
/// <param name="Draft">The workflow accepting it creates (disabled).</param>
/// <param name="WorkflowId">accepted: the workflow created.</param>
public sealed record SuggestionResponse(Guid Id, string Kind, string Status, int Score, string Title, string Explanation, JsonElement Evidence,
    JsonElement Draft, Guid? PatternId, DateTimeOffset? SnoozedUntil, Guid? WorkflowId, Guid? DecidedBy, DateTimeOffset? DecidedAt,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed class SuggestionRow
{
    /// <summary>The status as clients see it: a snooze that has passed is new again, without a write.</summary>
    public const string EffectiveStatus = "CASE WHEN status = 'snoozed' AND snoozed_until <= now() THEN 'new' ELSE status END";

    public const string Columns = $"""
        id, kind, {EffectiveStatus} AS Status, score, title, explanation, evidence::text AS Evidence, draft::text AS Draft, pattern_id AS PatternId,
        snoozed_until AS SnoozedUntil, workflow_id AS WorkflowId, decided_by AS DecidedBy, decided_at AS DecidedAt, created_at AS CreatedAt, updated_at AS UpdatedAt
        """;

    public Guid Id { get; init; }
    public string Kind { get; init; } = "";
    public string Status { get; init; } = "";
    public int Score { get; init; }
    public string Title { get; init; } = "";
    public string Explanation { get; init; } = "";
    public string Evidence { get; init; } = "{}";
    public string Draft { get; init; } = "{}";
    public Guid? PatternId { get; init; }
    public DateTime? SnoozedUntil { get; init; }
    public Guid? WorkflowId { get; init; }
    public Guid? DecidedBy { get; init; }
    public DateTime? DecidedAt { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    public static Task<SuggestionRow?> FindAsync(DbConnection connection, Guid orgId, Guid id, DbTransaction? transaction, bool forUpdate,
        CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<SuggestionRow>(new CommandDefinition(
            $"SELECT {Columns} FROM suggestions WHERE org_id = @orgId AND id = @id{(forUpdate ? " FOR UPDATE" : "")}",
            new { orgId, id }, transaction, cancellationToken: cancellationToken));

    public SuggestionResponse ToResponse() => new(Id, Kind, Status, Score, Title, Explanation,
        JsonDocument.Parse(Evidence).RootElement.Clone(), JsonDocument.Parse(Draft).RootElement.Clone(), PatternId, Utc(SnoozedUntil),
        WorkflowId, DecidedBy, Utc(DecidedAt), Utc(CreatedAt)!.Value, Utc(UpdatedAt)!.Value);

    private static DateTimeOffset? Utc(DateTime? at) => at is { } value ? new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc)) : null;
}

public static class SuggestionProblems
{
    public static ProblemHttpResult NotFound() =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Suggestion not found", detail: "No suggestion with this id in the organization.");

    public static ProblemHttpResult Decided(SuggestionRow row) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: $"Suggestion already {row.Status}",
            detail: row.WorkflowId is { } workflowId
                ? $"It was accepted as workflow {workflowId}."
                : $"It was {row.Status}; a decided suggestion does not change again.",
            extensions: new Dictionary<string, object?> { ["status"] = row.Status, ["workflowId"] = row.WorkflowId });
}
