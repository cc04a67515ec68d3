using Microsoft.Extensions.Diagnostics.HealthChecks;
using Service.Infrastructure.Health;

namespace Service.Features.Health;

public sealed record ReadinessResponse(string Status, double TotalDurationMs, bool Draining, IReadOnlyDictionary<string, ReadinessCheck> Checks);

public sealed record ReadinessCheck(string Status, double DurationMs, string? Description);

/// <summary>Should this instance get traffic? 200 when Healthy or Degraded, 503 when Unhealthy or shutting down.</summary>
public static class GetReadiness
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/ready", Handle)
            .WithName("GetReadiness")
            .WithSummary("Readiness probe: should this instance get traffic?")
            .Produces<ReadinessResponse>(StatusCodes.Status503ServiceUnavailable);

    public static async Task<Results<Ok<ReadinessResponse>, JsonHttpResult<ReadinessResponse>>> Handle(
        ReadinessProbe probe, ShutdownDrain drain, HttpContext context, CancellationToken cancellationToken)
    {
        var report = await probe.GetReportAsync(cancellationToken);
        var draining = drain.IsDraining;
        var status = draining ? HealthStatus.Unhealthy : report.Status;
        var body = new ReadinessResponse(
            status.ToString(),
            Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            draining,
            report.Entries.ToDictionary(e => e.Key, e => new ReadinessCheck(
                e.Value.Status.ToString(),
                Math.Round(e.Value.Duration.TotalMilliseconds, 1),
                Describe(e.Value))));

        context.Response.Headers.CacheControl = "no-store";
        return status == HealthStatus.Unhealthy
            ? TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable)
            : TypedResults.Ok(body);
    }

    // Checks write their own short descriptions (the library checks for PostgreSQL and Redis write none when healthy);
    // an exception that escaped one is named by type only, so neither its text nor a connection string can reach the body.
    private static string? Describe(HealthReportEntry entry) => entry.Exception switch
    {
        null => entry.Description ?? (entry.Status == HealthStatus.Healthy ? "responding" : entry.Status.ToString()),
        OperationCanceledException => "timed out",
        var e => $"failed ({e.GetType().Name})",
    };
}
