using Dapper;
using Service.Infrastructure.Patterns;
using Service.Infrastructure.Security;

namespace Service.Features.Patterns;

/// <summary>
/// Asks for a detection run now: 202 with the status and its Location to poll. The detector of any instance picks it
/// up within moments (NOTIFY); asking again while one is queued or running asks for one more run after it.
/// </summary>
public static class DetectPatterns
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/detect", Handle)
            .WithName("DetectPatterns")
            .WithSummary("Run pattern detection now")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Accepted<DetectionResponse>> Handle(Guid orgId, [AsParameters] PatternServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition($"""
            INSERT INTO pattern_state (org_id, requested_at) VALUES (@orgId, now())
            ON CONFLICT (org_id) DO UPDATE SET requested_at = now();
            NOTIFY {PatternDetector.WakeChannel};
            """, new { orgId }, cancellationToken: cancellationToken));
        return TypedResults.Accepted($"/api/v1/orgs/{orgId}/patterns/detection", await Detection.ReadAsync(connection, orgId, cancellationToken));
    }
}
