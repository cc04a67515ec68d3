using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Security;

namespace Service.Features.Notifications;

public sealed record ReadAllNotificationsRequest([property: Required, Range(1, long.MaxValue)] long? UpToId);

public sealed record ReadAllNotificationsResponse(long Marked);

/// <summary>
/// Marks read every notification up to the newest one the client has seen (its id). Ids grow in commit order per
/// user, so one that arrives meanwhile has a larger id and stays unread.
/// </summary>
public static class ReadAllNotifications
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/read-all", Handle)
            .WithName("ReadAllNotifications")
            .WithSummary("Mark read all notifications up to the newest one seen");

    public static async Task<Results<Ok<ReadAllNotificationsResponse>, ValidationProblem>> Handle(
        ReadAllNotificationsRequest request, ClaimsPrincipal user, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var userId = user.RequiredUserId();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var head = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT last_seq FROM stream_heads WHERE user_id = @userId", new { userId }, cancellationToken: cancellationToken)) ?? 0;
        if (request.UpToId > head)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["upToId"] = [$"No notification with this id exists yet (the newest is {head}); send the id of the newest notification you have seen."],
            });
        }
        var marked = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE notifications SET read_at = now() WHERE user_id = @userId AND id <= @upTo AND read_at IS NULL",
            new { userId, upTo = request.UpToId }, cancellationToken: cancellationToken));
        return TypedResults.Ok(new ReadAllNotificationsResponse(marked));
    }
}
