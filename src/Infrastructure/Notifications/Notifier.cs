using System.Data.Common;
using System.Text.Json;
using Dapper;
using Service.Infrastructure.Database;
using Service.Infrastructure.Streaming;

namespace Service.Infrastructure.Notifications;

/// <summary>What a slice says to notify someone: a type clients can switch on, a title, an optional body and data.</summary>
public sealed record NotificationDraft(string Type, string Title, string? Body = null, object? Data = null);

/// <summary>A notification as the API lists it and as the stream's notification.created event carries it.</summary>
public sealed record NotificationResponse(long Id, Guid? OrgId, string Type, string Title, string? Body, JsonElement Data, DateTimeOffset CreatedAt, DateTimeOffset? ReadAt);

/// <summary>
/// The one way to notify users. Call <see cref="NotifyAsync"/> in the transaction of the change that causes the
/// notification, so both commit or neither does, then <see cref="PublishAsync"/> with its result after the commit.
/// A notification whose announcement is lost (crash between commit and publish, Redis down) still reaches open
/// streams through their catch-up from PostgreSQL.
/// </summary>
public sealed class Notifier(StreamPublisher publisher)
{
    public async Task<IReadOnlyList<StreamEvent>> NotifyAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyCollection<Guid> userIds, Guid? orgId, NotificationDraft draft, CancellationToken cancellationToken)
    {
        if (userIds.Count == 0) return [];
        var numbers = await StreamLog.TakeNumbersAsync(connection, transaction, userIds, cancellationToken);
        var data = JsonSerializer.SerializeToElement(draft.Data ?? new { }, JsonSerializerOptions.Web);
        var users = numbers.Keys.ToArray();
        var ids = users.Select(u => numbers[u]).ToArray();
        var createdAt = (await connection.ExecuteScalarAsync<DateTime>(new CommandDefinition("""
            INSERT INTO notifications (user_id, id, org_id, type, title, body, data)
            SELECT u, n, @orgId, @Type, @Title, @Body, @data::jsonb FROM unnest(@users::uuid[], @ids::bigint[]) AS x(u, n)
            RETURNING created_at
            """, new { orgId, draft.Type, draft.Title, draft.Body, data = data.GetRawText(), users, ids },
            transaction, cancellationToken: cancellationToken))).AsUtc();

        // A user's own notification is personal (no org on the event): it reaches them even after leaving the org.
        var events = users.Select((user, i) => (user, ids[i],
            JsonSerializer.Serialize(new NotificationResponse(ids[i], orgId, draft.Type, draft.Title, draft.Body, data, createdAt, null), JsonSerializerOptions.Web))).ToList();
        return await StreamLog.WriteAsync(connection, transaction, events, StreamEventTypes.NotificationCreated, orgId: null, cancellationToken);
    }

    /// <summary>Notifies the owners and admins of <paramref name="orgId"/>, except <paramref name="actorId"/>, who made the change.</summary>
    public async Task<IReadOnlyList<StreamEvent>> NotifyOrgAdminsAsync(DbConnection connection, DbTransaction transaction,
        Guid orgId, Guid? actorId, NotificationDraft draft, CancellationToken cancellationToken)
    {
        var admins = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT user_id FROM memberships WHERE org_id = @orgId AND role IN ('owner', 'admin') AND user_id IS DISTINCT FROM @actorId",
            new { orgId, actorId }, transaction, cancellationToken: cancellationToken))).ToList();
        return await NotifyAsync(connection, transaction, admins, orgId, draft, cancellationToken);
    }

    /// <summary>After the commit: to the streams open now, on every instance. Never throws.</summary>
    public Task PublishAsync(IReadOnlyList<StreamEvent> events) => publisher.PublishAsync(events);
}
