using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Security;

namespace Service.Features.Notifications;

/// <summary>Deletes one of the caller's notifications for good.</summary>
public static class DeleteNotification
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/{id:long}", Handle)
            .WithName("DeleteNotification")
            .WithSummary("Delete a notification")
            .ProducesProblem(StatusCodes.Status404NotFound);

    public static async Task<Results<NoContent, ProblemHttpResult>> Handle(long id, ClaimsPrincipal user, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var deleted = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM notifications WHERE user_id = @userId AND id = @id", new { userId = user.RequiredUserId(), id }, cancellationToken: cancellationToken));
        return deleted == 0 ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such notification") : TypedResults.NoContent();
    }
}
