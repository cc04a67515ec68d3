namespace Service.Features.Health;

public sealed record LivenessResponse(string Status);

/// <summary>The process is up and serving HTTP. Touches no dependency, so a database outage never restarts pods.</summary>
public static class GetLiveness
{
    private static readonly LivenessResponse Alive = new("Healthy");

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/live", Handle).WithName("GetLiveness").WithSummary("Liveness probe: is the process alive?");

    public static Ok<LivenessResponse> Handle() => TypedResults.Ok(Alive);
}
