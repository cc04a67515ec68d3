using Dapper;
using Service.Infrastructure.Http;
using Service.Infrastructure.Security;

namespace Service.Features.Suggestions;

/// <param name="Status">new (default), accepted, dismissed or snoozed.</param>
public sealed record ListSuggestionsQuery(string? Status, string? Cursor, int? Limit);

/// <summary>The organization's suggestions of one status, best score first, in pages; cached in Redis until a change.</summary>
public static class ListSuggestions
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListSuggestions")
            .WithSummary("List workflow suggestions")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<Page<SuggestionResponse>>, ValidationProblem>> Handle(
        Guid orgId, [AsParameters] ListSuggestionsQuery query, [AsParameters] SuggestionServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var status = query.Status ?? SuggestionStatuses.New;
        if (!SuggestionStatuses.All.Contains(status)) errors["status"] = [$"One of {string.Join(", ", SuggestionStatuses.All)}."];
        if (RankPageRequest.Read(query.Cursor, query.Limit, errors) is not { } page || errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var result = await services.Cache.GetOrLoadAsync(orgId, "suggestions", query with { Status = status }, async token =>
        {
            await using var connection = await services.DataSource.OpenConnectionAsync(token);
            var rows = (await connection.QueryAsync<SuggestionRow>(new CommandDefinition($"""
                SELECT {SuggestionRow.Columns} FROM suggestions
                WHERE org_id = @orgId AND {SuggestionRow.EffectiveStatus} = @status
                  AND (@AfterRank::bigint IS NULL OR (score, id) < (@AfterRank, @AfterId))
                ORDER BY score DESC, id DESC
                LIMIT @Take
                """, new { orgId, status, page.AfterRank, page.AfterId, page.Take }, cancellationToken: token))).AsList();
            return page.ToPage(rows, r => (r.Score, r.Id), r => r.ToResponse());
        }, cancellationToken);
        return TypedResults.Ok(result);
    }
}
