using Service.Infrastructure.Security;

namespace Service.Features.Suggestions;

/// <summary>One suggestion with its explanation, evidence and workflow draft.</summary>
public static class GetSuggestion
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{suggestionId:guid}", Handle)
            .WithName("GetSuggestion")
            .WithSummary("Get a suggestion")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<SuggestionResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid suggestionId, [AsParameters] SuggestionServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        var row = await SuggestionRow.FindAsync(connection, orgId, suggestionId, null, forUpdate: false, cancellationToken);
        return row is null ? SuggestionProblems.NotFound() : TypedResults.Ok(row.ToResponse());
    }
}
