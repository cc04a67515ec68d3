using System.Globalization;
using Dapper;
using Npgsql;
using Service.Infrastructure.Caching;
using Service.Infrastructure.Patterns;
using Service.Infrastructure.Security;

namespace Service.Features.Overview;

/// <param name="From">First day (UTC, yyyy-MM-dd); default 29 days before To.</param>
/// <param name="To">Last day (UTC, yyyy-MM-dd); default today.</param>
public sealed record GetOverviewQuery(string? From, string? To);

public sealed record DayEvents(DateOnly Day, long Total, IReadOnlyDictionary<string, long> ByType);
public sealed record PathEvents(string Template, long Events);

/// <param name="EventsPerDay">Every day of the range, days without events included.</param>
/// <param name="BusiestPaths">The ten path templates (directory, **, extension) with the most events.</param>
/// <param name="AcceptanceRate">Accepted over accepted and dismissed; null before any decision.</param>
/// <param name="RunSuccessRate">Succeeded over finished runs created in the range; null without any.</param>
/// <param name="CountedUntil">Events received up to here are in the rollups; later ones are counted from the events table.</param>
public sealed record OverviewResponse(DateOnly From, DateOnly To, long TotalEvents, IReadOnlyList<DayEvents> EventsPerDay,
    IReadOnlyDictionary<string, long> EventsByType, int ActiveSources, IReadOnlyList<PathEvents> BusiestPaths,
    IReadOnlyDictionary<string, int> PatternsByKind, IReadOnlyDictionary<string, int> SuggestionsByStatus, double? AcceptanceRate,
    IReadOnlyDictionary<string, int> RunsByStatus, double? RunSuccessRate, DateTimeOffset? CountedUntil);

/// <summary>
/// The dashboard's first screen, from small rollups the detector keeps (events per day and type, source, path
/// template) plus the events received since its last run, and from indexed counts of patterns, suggestions and runs.
/// Never a scan of the events table; cached in Redis like the lists.
/// </summary>
public static class GetOverview
{
    public const int MaxDays = 366;

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("GetOverview")
            .WithSummary("Get the organization's overview: events, sources, paths, patterns, suggestions and runs")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<OverviewResponse>, ValidationProblem>> Handle(
        Guid orgId, [AsParameters] GetOverviewQuery query, NpgsqlDataSource dataSource, OrgReadCache cache, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var to = ReadDay(query.To, "to", errors) ?? DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var from = ReadDay(query.From, "from", errors) ?? to.AddDays(-29);
        if (errors.Count == 0 && (from > to || to.DayNumber - from.DayNumber >= MaxDays)) errors["from"] = [$"On or before to, at most {MaxDays} days before it."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        return TypedResults.Ok(await cache.GetOrLoadAsync(orgId, "overview", new { from, to }, token => LoadAsync(dataSource, orgId, from, to, token), cancellationToken));
    }

    private static DateOnly? ReadDay(string? text, string field, Dictionary<string, string[]> errors)
    {
        if (text is null) return null;
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)) return day;
        errors[field] = ["A date as yyyy-MM-dd."];
        return null;
    }

    /// <summary>The overview read from PostgreSQL, without the cache (the bench times it).</summary>
    public static async Task<OverviewResponse> LoadAsync(NpgsqlDataSource dataSource, Guid orgId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        var (start, end) = (from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot: the rollups and the events past the watermark are read as of the same commit of the detector.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        await using var results = await connection.QueryMultipleAsync(new CommandDefinition("""
            SELECT coalesce((SELECT watermark FROM pattern_state WHERE org_id = @orgId), '-infinity');
            SELECT day::timestamp, type, sum(events)::bigint AS events FROM event_rollup_types WHERE org_id = @orgId AND day BETWEEN @from::date AND @to::date GROUP BY day, type;
            SELECT DISTINCT source_id FROM event_rollup_sources WHERE org_id = @orgId AND day BETWEEN @from::date AND @to::date;
            SELECT template, sum(events)::bigint AS events FROM event_rollup_paths WHERE org_id = @orgId AND day BETWEEN @from::date AND @to::date
                GROUP BY template ORDER BY 2 DESC, 1 LIMIT 50;
            SELECT kind, count(*)::int FROM patterns WHERE org_id = @orgId AND active GROUP BY kind;
            SELECT CASE WHEN status = 'snoozed' AND snoozed_until <= now() THEN 'new' ELSE status END, count(*)::int FROM suggestions WHERE org_id = @orgId GROUP BY 1;
            SELECT status, count(*)::int FROM workflow_runs WHERE org_id = @orgId AND created_at >= @start AND created_at < @end GROUP BY status;
            SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC'), type, source_id, path, count(*)
                FROM events WHERE org_id = @orgId AND occurred_at >= @start AND occurred_at < @end
                  AND received_at > coalesce((SELECT watermark FROM pattern_state WHERE org_id = @orgId), '-infinity')
                GROUP BY 1, 2, 3, 4;
            """, new { orgId, from = from.ToDateTime(TimeOnly.MinValue), to = to.ToDateTime(TimeOnly.MinValue), start, end }, transaction,
            cancellationToken: cancellationToken));
        var watermark = await results.ReadSingleAsync<DateTime>();
        var byDayType = (await results.ReadAsync<(DateTime Day, string Type, long Events)>()).Select(r => (Day: DateOnly.FromDateTime(r.Day), r.Type, r.Events)).ToList();
        var sources = (await results.ReadAsync<Guid>()).ToHashSet();
        var paths = (await results.ReadAsync<(string Template, long Events)>()).ToDictionary(p => p.Template, p => p.Events);
        var patterns = (await results.ReadAsync<(string Kind, int Count)>()).ToDictionary(p => p.Kind, p => p.Count);
        var suggestions = (await results.ReadAsync<(string Status, int Count)>()).ToDictionary(p => p.Status, p => p.Count);
        var runs = (await results.ReadAsync<(string Status, int Count)>()).ToDictionary(p => p.Status, p => p.Count);

        // Events the detector has not read yet (received since its watermark: a few minutes' worth).
        var recent = await results.ReadAsync<(DateTime Day, string Type, Guid Source, string Path, long Events)>();
        foreach (var r in recent)
        {
            byDayType.Add((DateOnly.FromDateTime(r.Day), r.Type, r.Events));
            sources.Add(r.Source);
            var template = PatternItem.Template(r.Path);
            paths[template] = paths.GetValueOrDefault(template) + r.Events;
        }

        var perDay = byDayType.GroupBy(r => r.Day).ToDictionary(g => g.Key, g => g.GroupBy(r => r.Type).ToDictionary(t => t.Key, t => t.Sum(r => r.Events)));
        var days = Enumerable.Range(0, to.DayNumber - from.DayNumber + 1).Select(from.AddDays)
            .Select(day => perDay.TryGetValue(day, out var types) ? new DayEvents(day, types.Values.Sum(), types) : new DayEvents(day, 0, new Dictionary<string, long>()))
            .ToList();
        var byType = byDayType.GroupBy(r => r.Type).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(r => r.Events));
        int accepted = suggestions.GetValueOrDefault("accepted"), dismissed = suggestions.GetValueOrDefault("dismissed");
        var finished = runs.Where(r => r.Key is "succeeded" or "failed" or "timed_out" or "cancelled").Sum(r => r.Value);
        return new OverviewResponse(from, to, days.Sum(d => d.Total), days, byType, sources.Count,
            paths.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(10).Select(p => new PathEvents(p.Key, p.Value)).ToList(),
            PatternKinds.All.ToDictionary(k => k, k => patterns.GetValueOrDefault(k)),
            new[] { "new", "accepted", "dismissed", "snoozed" }.ToDictionary(s => s, s => suggestions.GetValueOrDefault(s)),
            accepted + dismissed > 0 ? Math.Round((double)accepted / (accepted + dismissed), 4) : null,
            runs, finished > 0 ? Math.Round((double)runs.GetValueOrDefault("succeeded") / finished, 4) : null,
            watermark == DateTime.MinValue || watermark.Year < 1900 ? null : new DateTimeOffset(DateTime.SpecifyKind(watermark, DateTimeKind.Utc)));
    }
}
