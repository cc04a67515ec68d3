using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Http;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Security;

namespace Service.Features.Notifications;

/// <summary>The caller's notifications, newest first; only unread ones with unread=true, one type with type=.</summary>
public static class ListNotifications
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListNotifications")
            .WithSummary("List your notifications, newest first");

    public static async Task<Results<Ok<Page<NotificationResponse>>, ValidationProblem>> Handle(
        string? cursor, int? limit, bool? unread, string? type, ClaimsPrincipal user, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var page = NumberPageRequest.Read(cursor, limit, errors);
        if (type is { Length: > 100 }) errors["type"] = ["At most 100 characters."];
        if (page is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<NotificationRow>(new CommandDefinition($"""
            SELECT {NotificationRow.Columns} FROM notifications
            WHERE user_id = @userId
              AND (@before::bigint IS NULL OR id < @before)
              AND (NOT @unreadOnly OR read_at IS NULL)
              AND (@type::text IS NULL OR type = @type)
            ORDER BY id DESC LIMIT @take
            """, new { userId = user.RequiredUserId(), before = page.Before, unreadOnly = unread == true, type, take = page.Take },
            cancellationToken: cancellationToken))).ToList();
        return TypedResults.Ok(page.ToPage(rows, r => r.Id, r => r.ToResponse()));
    }
}
