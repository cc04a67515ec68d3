using Service.Infrastructure.Database.Migrations;

namespace Service.Features.Health;

public sealed record MigrationsResponse(
    bool UpToDate,
    IReadOnlyList<AppliedMigrationItem> Applied,
    IReadOnlyList<PendingMigrationItem> Pending,
    IReadOnlyList<AppliedMigrationItem> UnknownApplied,
    IReadOnlyList<string> Modified);

public sealed record AppliedMigrationItem(long Version, string Name, DateTimeOffset AppliedAt, int ExecutionMs);

public sealed record PendingMigrationItem(long Version, string Name);

/// <summary>Applied and pending migrations, for deploy pipelines and operators.</summary>
public static class GetMigrations
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/migrations", Handle)
            .WithName("GetMigrations")
            .WithSummary("List applied and pending database migrations")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    public static async Task<Results<Ok<MigrationsResponse>, ProblemHttpResult>> Handle(
        MigrationRunner runner, HttpContext context, CancellationToken cancellationToken)
    {
        MigrationStatus status;
        try
        {
            status = await runner.GetStatusAsync(cancellationToken);
        }
        catch (Npgsql.NpgsqlException)
        {
            context.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(
                title: "Database unavailable",
                detail: "The migration state cannot be read while PostgreSQL is unreachable.",
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return TypedResults.Ok(new MigrationsResponse(
            status.UpToDate,
            status.Known.Where(s => s.IsApplied).Select(s => ToItem(s.Applied!)).ToList(),
            status.Pending.Select(m => new PendingMigrationItem(m.Version, m.Name)).ToList(),
            status.UnknownApplied.Select(ToItem).ToList(),
            status.Mismatched.Select(s => s.Migration.Label).ToList()));
    }

    private static AppliedMigrationItem ToItem(AppliedMigration a) => new(a.Version, a.Name, a.AppliedAt, a.ExecutionMs);
}
