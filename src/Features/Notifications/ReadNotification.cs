using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Security;

namespace Service.Features.Notifications;

/// <summary>Marks one of the caller's notifications read; reading it again keeps the first read time.</summary>
public static class ReadNotification
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{id:long}/read", Handle)
            .WithName("ReadNotification")
            .WithSummary("Mark a notification read")
            .ProducesProblem(StatusCodes.Status404NotFound);

    public static async Task<Results<Ok<NotificationResponse>, ProblemHttpResult>> Handle(
        long id, ClaimsPrincipal user, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<NotificationRow>(new CommandDefinition($"""
            UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE user_id = @userId AND id = @id
            RETURNING {NotificationRow.Columns}
            """, new { userId = user.RequiredUserId(), id }, cancellationToken: cancellationToken));
        return row is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such notification")
            : TypedResults.Ok(row.ToResponse());
    }
}
