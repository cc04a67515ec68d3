using System.Text.Json;
using Dapper;
using Npgsql;
using Service.Infrastructure.Http;
using Service.Infrastructure.Database;

namespace Service.Features.Admin;

public sealed record ListAuditLogQuery(
    string? Action,
    string? ActorType,
    string? ActorId,
    Guid? OrgId,
    string? TargetType,
    string? TargetId,
    DateTimeOffset? From,
    DateTimeOffset? To,
    string? Cursor,
    int? Limit);

public sealed record AuditLogPage(IReadOnlyList<AuditLogEntry> Items, string? NextCursor);

public sealed record AuditLogEntry(
    long Id,
    DateTimeOffset OccurredAt,
    string ActorType,
    string? ActorId,
    Guid? OrgId,
    string Action,
    string? TargetType,
    string? TargetId,
    JsonElement Data,
    string? TraceId,
    string? RequestId);

/// <summary>The audit log, newest first, filtered by any combination of fields, in pages linked by an opaque cursor.</summary>
public static class ListAuditLog
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/audit", Handle)
            .WithName("ListAuditLog")
            .WithSummary("List the audit log");

    public static async Task<Results<Ok<AuditLogPage>, ValidationProblem>> Handle(
        [AsParameters] ListAuditLogQuery query, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = query.Limit ?? DefaultLimit;
        if (limit is < 1 or > MaxLimit) errors["limit"] = [$"Must be from 1 to {MaxLimit}."];
        if (query.From > query.To) errors["from"] = ["Must not be after 'to'."];
        Position? after = null;
        if (query.Cursor is not null && (after = Position.Decode(query.Cursor)) is null) errors["cursor"] = ["Not a cursor from a previous page of this list."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var conditions = new List<string>();
        var parameters = new DynamicParameters();
        void Where(string condition, string name, object? value)
        {
            if (value is null) return;
            conditions.Add(condition);
            parameters.Add(name, value);
        }
        Where("action = @Action", "Action", query.Action);
        Where("actor_type = @ActorType", "ActorType", query.ActorType);
        Where("actor_id = @ActorId", "ActorId", query.ActorId);
        Where("org_id = @OrgId", "OrgId", query.OrgId);
        Where("target_type = @TargetType", "TargetType", query.TargetType);
        Where("target_id = @TargetId", "TargetId", query.TargetId);
        Where("occurred_at >= @From", "From", query.From?.UtcDateTime);
        Where("occurred_at < @To", "To", query.To?.UtcDateTime);
        if (after is not null)
        {
            conditions.Add("(occurred_at, id) < (@AfterAt, @AfterId)");
            parameters.Add("AfterAt", after.OccurredAt);
            parameters.Add("AfterId", after.Id);
        }
        parameters.Add("Take", limit + 1);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<Row>(new CommandDefinition($"""
            SELECT id, occurred_at AS OccurredAt, actor_type AS ActorType, actor_id AS ActorId, org_id AS OrgId, action,
                   target_type AS TargetType, target_id AS TargetId, data::text AS Data, trace_id AS TraceId, request_id AS RequestId
            FROM audit_log
            {(conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions))}
            ORDER BY occurred_at DESC, id DESC
            LIMIT @Take
            """, parameters, cancellationToken: cancellationToken))).ToList();

        var page = rows.Take(limit).ToList();
        var next = rows.Count > limit ? new Position(page[^1].OccurredAt, page[^1].Id).Encode() : null;
        return TypedResults.Ok(new AuditLogPage(page.Select(r => r.ToEntry()).ToList(), next));
    }

    private sealed record Row(long Id, DateTime OccurredAt, string ActorType, string? ActorId, Guid? OrgId, string Action,
        string? TargetType, string? TargetId, string Data, string? TraceId, string? RequestId)
    {
        public AuditLogEntry ToEntry()
        {
            using var data = JsonDocument.Parse(Data);
            return new(Id, OccurredAt.AsUtc(), ActorType, ActorId, OrgId, Action,
                TargetType, TargetId, data.RootElement.Clone(), TraceId, RequestId);
        }
    }

    private sealed record Position(DateTime OccurredAt, long Id)
    {
        public string Encode() => PageCursor.Encode(OccurredAt, Id.ToString());

        public static Position? Decode(string cursor) =>
            PageCursor.TryDecode(cursor, out var at, out var id) && long.TryParse(id, out var number) ? new Position(at, number) : null;
    }
}
