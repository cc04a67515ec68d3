using Service.Infrastructure.Security;

namespace Service.Features.Patterns;

/// <summary>The organization's detection status, which a client polls after POST .../patterns/detect.</summary>
public static class GetDetection
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/detection", Handle)
            .WithName("GetDetection")
            .WithSummary("Get the status of pattern detection")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Ok<DetectionResponse>> Handle(Guid orgId, [AsParameters] PatternServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        return TypedResults.Ok(await Detection.ReadAsync(connection, orgId, cancellationToken));
    }
}
