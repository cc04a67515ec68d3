using Service.Infrastructure.Security;

namespace Service.Features.Integrations;

public static class GetIntegration
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{integrationId:guid}", Handle)
            .WithName("GetIntegration")
            .WithSummary("Get an integration (its ETag header is what PATCH's If-Match expects)")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Ok<IntegrationResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid integrationId, HttpResponse response, [AsParameters] IntegrationServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        var row = await IntegrationRow.FindAsync(connection, orgId, integrationId, null, cancellationToken);
        if (row is null) return IntegrationProblems.NotFound();
        response.Headers.ETag = row.ETag;
        return TypedResults.Ok(row.ToResponse());
    }
}
