using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Security;

namespace Service.Features.Notifications;

public sealed record UnreadCountResponse(long Count);

/// <summary>How many of the caller's notifications are unread: the badge a frontend shows.</summary>
public static class CountUnreadNotifications
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/unread-count", Handle)
            .WithName("CountUnreadNotifications")
            .WithSummary("Count your unread notifications");

    public static async Task<Ok<UnreadCountResponse>> Handle(ClaimsPrincipal user, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var count = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM notifications WHERE user_id = @userId AND read_at IS NULL",
            new { userId = user.RequiredUserId() }, cancellationToken: cancellationToken));
        return TypedResults.Ok(new UnreadCountResponse(count));
    }
}
