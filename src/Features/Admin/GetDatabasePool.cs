using Service.Infrastructure.Database;

namespace Service.Features.Admin;

/// <summary>This instance's PostgreSQL connection pool, as Npgsql counts it: limits, busy, idle, waiting.</summary>
public static class GetDatabasePool
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/db/pool", Handle)
            .WithName("GetDatabasePool")
            .WithSummary("Get this instance's database connection pool");

    public static Ok<DatabasePoolStatistics> Handle(DatabasePool pool) => TypedResults.Ok(pool.Read());
}
