using Dapper;
using Service.Infrastructure.Http;
using Service.Infrastructure.Patterns;
using Service.Infrastructure.Security;

namespace Service.Features.Patterns;

/// <param name="Kind">sequence, schedule or co_occurrence; all kinds when absent.</param>
/// <param name="IncludeInactive">Also patterns a later detection no longer found.</param>
public sealed record ListPatternsQuery(string? Kind, bool? IncludeInactive, string? Cursor, int? Limit);

/// <summary>The organization's patterns, most supported first, in pages; cached in Redis until the next detection.</summary>
public static class ListPatterns
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListPatterns")
            .WithSummary("List detected patterns")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<Page<PatternResponse>>, ValidationProblem>> Handle(
        Guid orgId, [AsParameters] ListPatternsQuery query, [AsParameters] PatternServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (query.Kind is not null && !PatternKinds.All.Contains(query.Kind)) errors["kind"] = [$"One of {string.Join(", ", PatternKinds.All)}."];
        if (RankPageRequest.Read(query.Cursor, query.Limit, errors) is not { } page) return TypedResults.ValidationProblem(errors);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var result = await services.Cache.GetOrLoadAsync(orgId, "patterns", query, async token =>
        {
            await using var connection = await services.DataSource.OpenConnectionAsync(token);
            var rows = (await connection.QueryAsync<PatternRow>(new CommandDefinition($"""
                SELECT {PatternRow.Columns} FROM patterns
                WHERE org_id = @orgId AND (active OR @all) AND (@Kind::text IS NULL OR kind = @Kind)
                  AND (@AfterRank::bigint IS NULL OR (support_sessions, id) < (@AfterRank, @AfterId))
                ORDER BY support_sessions DESC, id DESC
                LIMIT @Take
                """, new { orgId, all = query.IncludeInactive ?? false, query.Kind, page.AfterRank, page.AfterId, page.Take }, cancellationToken: token))).AsList();
            return page.ToPage(rows, r => (r.Sessions, r.Id), r => r.ToResponse());
        }, cancellationToken);
        return TypedResults.Ok(result);
    }
}
