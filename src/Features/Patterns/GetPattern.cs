using Dapper;
using Service.Infrastructure.Security;

namespace Service.Features.Patterns;

/// <summary>One pattern with its evidence: support, confidence, lift, first and last seen, example events.</summary>
public static class GetPattern
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{patternId:guid}", Handle)
            .WithName("GetPattern")
            .WithSummary("Get a pattern")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<PatternResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid patternId, [AsParameters] PatternServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<PatternRow>(new CommandDefinition(
            $"SELECT {PatternRow.Columns} FROM patterns WHERE org_id = @orgId AND id = @patternId", new { orgId, patternId }, cancellationToken: cancellationToken));
        return row is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Pattern not found", detail: "No pattern with this id in the organization.")
            : TypedResults.Ok(row.ToResponse());
    }
}
