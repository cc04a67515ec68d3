using System.Text;
using System.Text.Json;
using Dapper;
using Npgsql;
using Service.Infrastructure.Events;
using Service.Infrastructure.Http;
using Service.Infrastructure.Privacy;
using Service.Infrastructure.Security;

namespace Service.Features.Events;

/// <param name="From">Inclusive, RFC 3339.</param>
/// <param name="To">Exclusive, RFC 3339.</param>
/// <param name="Type">Repeatable: events of any of these types.</param>
/// <param name="Source">The API key or user id that sent the events.</param>
/// <param name="PathPrefix">A prefix of the paths as agents send them; rewritten like stored paths under the organization's path mode.</param>
public sealed record ListEventsQuery(DateTimeOffset? From, DateTimeOffset? To, string[]? Type, string? PathPrefix, Guid? Source, string? Cursor, int? Limit);

public sealed record EventResponse(Guid Id, string Type, DateTimeOffset OccurredAt, DateTimeOffset ReceivedAt, string Path, string? Tool,
    long? DurationMs, JsonElement? Metadata, string? ClientEventId, string SourceType, Guid SourceId);

/// <param name="StoredPathPrefix">The path prefix as matched against stored paths (after the organization's path mode rewrote it).</param>
public sealed record EventPage(IReadOnlyList<EventResponse> Items, string? NextCursor, string? StoredPathPrefix);

/// <summary>An organization's events, newest first, filtered, in keyset pages (occurred_at desc, id desc).</summary>
public static class ListEvents
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListEvents")
            .WithSummary("List events, newest first, with filters")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<EventPage>, ValidationProblem>> Handle(
        Guid orgId, [AsParameters] ListEventsQuery query, NpgsqlDataSource dataSource, PrivacyPolicies privacy, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (query.Type?.FirstOrDefault(t => !EventTypes.All.Contains(t)) is { } unknown) errors["type"] = [$"'{unknown}' is not one of {string.Join(", ", EventTypes.All)}."];
        if (query.PathPrefix is { Length: 0 or > IngestEvents.MaxPathLength }) errors["pathPrefix"] = [$"1 to {IngestEvents.MaxPathLength} characters."];
        if (query.From is { } from && query.To is { } to && from >= to) errors["to"] = ["Must be after from."];
        var paging = PageRequest.Read(query.Cursor, query.Limit, errors, DefaultLimit, MaxLimit);
        if (paging is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (query.PathPrefix is { } prefix)
        {
            var policy = await privacy.GetAsync(connection, null, orgId, cancellationToken);
            query = query with { PathPrefix = policy.StoredPath(prefix) };
        }
        var (sql, parameters) = Build(orgId, query, paging.After, paging.Take);
        var rows = (await connection.QueryAsync<EventRow>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken))).ToList();

        var (page, next) = paging.Split(rows, r => (r.OccurredAt, r.Id));
        return TypedResults.Ok(new EventPage(page.Select(r => r.ToResponse()).ToList(), next, query.PathPrefix));
    }

    /// <summary>
    /// The query with only the filters asked for, so each shape gets its own plan (a test EXPLAINs these shapes:
    /// every one must be served by an index).
    /// </summary>
    public static (string Sql, DynamicParameters Parameters) Build(Guid orgId, ListEventsQuery query, (DateTime At, Guid Id)? after, int take)
    {
        var where = new StringBuilder("org_id = @orgId");
        var parameters = new DynamicParameters(new { orgId, take });
        if (query.From is { } from) { where.Append(" AND occurred_at >= @from"); parameters.Add("from", from.UtcDateTime); }
        if (query.To is { } to) { where.Append(" AND occurred_at < @to"); parameters.Add("to", to.UtcDateTime); }
        if (query.Type is { Length: > 0 } types) { where.Append(" AND type = ANY(@types)"); parameters.Add("types", types.Distinct().ToArray()); }
        if (query.PathPrefix is { } prefix) { where.Append(" AND path LIKE @pattern ESCAPE '!'"); parameters.Add("pattern", EscapeLike(prefix) + "%"); }
        if (query.Source is { } source) { where.Append(" AND source_id = @source"); parameters.Add("source", source); }
        if (after is { } cursor)
        {
            where.Append(" AND (occurred_at, id) < (@afterAt, @afterId)");
            parameters.Add("afterAt", cursor.At);
            parameters.Add("afterId", cursor.Id);
        }
        if (query.PathPrefix is null)
        {
            return ($"SELECT {Columns("")} FROM events WHERE {where} ORDER BY occurred_at DESC, id DESC LIMIT @take", parameters);
        }
        // A prefix may match thousands of rows that must all be ranked by time: rank them from the path index alone,
        // then read only the page's rows.
        return ($"""
            WITH page AS (SELECT id, occurred_at FROM events WHERE {where} ORDER BY occurred_at DESC, id DESC LIMIT @take)
            SELECT {Columns("e.")} FROM page JOIN events e ON e.id = page.id AND e.org_id = @orgId
            ORDER BY page.occurred_at DESC, page.id DESC
            """, parameters);
    }

    private static string Columns(string table) =>
        $"{table}id, {table}type, {table}occurred_at AS OccurredAt, {table}received_at AS ReceivedAt, {table}path, {table}tool, " +
        $"{table}duration_ms AS DurationMs, {table}metadata::text AS Metadata, {table}client_event_id AS ClientEventId, " +
        $"{table}source_type AS SourceType, {table}source_id AS SourceId";

    // '!' rather than a backslash: a backslash inside a literal is read differently depending on standard_conforming_strings.
    private static string EscapeLike(string value) => value.Replace("!", "!!").Replace("%", "!%").Replace("_", "!_");

    private sealed record EventRow(Guid Id, string Type, DateTime OccurredAt, DateTime ReceivedAt, string Path, string? Tool, long? DurationMs,
        string? Metadata, string? ClientEventId, string SourceType, Guid SourceId)
    {
        public EventResponse ToResponse() => new(Id, Type, DateTime.SpecifyKind(OccurredAt, DateTimeKind.Utc), DateTime.SpecifyKind(ReceivedAt, DateTimeKind.Utc),
            Path, Tool, DurationMs, Metadata is null ? null : JsonDocument.Parse(Metadata).RootElement.Clone(), ClientEventId, SourceType, SourceId);
    }
}
