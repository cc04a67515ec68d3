using System.Data.Common;
using System.Text.Json;
using Dapper;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Jobs;
using Service.Infrastructure.Notifications;

namespace Service.Infrastructure.Streaming;

/// <summary>
/// Stream events at a high rate without a lock per event: organization events for every member (run.updated) and
/// notifications made by workflow steps. Writers queue them in their own transaction (a plain insert); one drainer at
/// a time, on any instance, numbers queued items into the recipients' streams in batches and publishes them. A batch
/// takes each recipient's stream head once, where numbering in the writer's transaction took it once per event and
/// made a busy organization's runs wait on each other's commits. Items arrive a moment later (within
/// <see cref="PollInterval"/>) and are exactly as durable as the change that queued them: the drainer deletes them
/// in the transaction that writes the events.
/// </summary>
public sealed class StreamOutbox(IServiceProvider services, ILogger<StreamOutbox> logger) : BackgroundService
{
    private const int BatchSize = 500;
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>An organization event for each member at the time it is numbered.</summary>
    public static Task QueueForOrgAsync(DbConnection connection, DbTransaction transaction, Guid orgId, string type, string data, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("INSERT INTO stream_outbox (org_id, type, data) VALUES (@orgId, @type, @data::jsonb)",
            new { orgId, type, data }, transaction, cancellationToken: cancellationToken));

    /// <summary>A notification for each of <paramref name="userIds"/> (no one: nothing is queued).</summary>
    public static Task QueueNotificationAsync(DbConnection connection, DbTransaction transaction, Guid orgId, IReadOnlyCollection<Guid> userIds,
        NotificationDraft draft, CancellationToken cancellationToken) =>
        userIds.Count == 0 ? Task.CompletedTask : connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO stream_outbox (org_id, user_ids, type, data, notification) VALUES (@orgId, @users, @type, @data::jsonb, @notification::jsonb)
            """,
            new
            {
                orgId, users = userIds.Distinct().ToArray(), type = StreamEventTypes.NotificationCreated,
                data = JsonSerializer.Serialize(draft.Data ?? new { }, JsonSerializerOptions.Web),
                notification = JsonSerializer.Serialize(new { draft.Type, draft.Title, draft.Body }, JsonSerializerOptions.Web),
            }, transaction, cancellationToken: cancellationToken));

    private sealed class Queued
    {
        public long Id { get; init; }
        public Guid OrgId { get; init; }
        public Guid[]? UserIds { get; init; }
        public string Type { get; init; } = "";
        public string Data { get; init; } = "{}";
        public string? Notification { get; init; }
    }

    private sealed record QueuedNotification(string Type, string Title, string? Body);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        var publisher = services.GetRequiredService<StreamPublisher>();
        await PollingLoop.RunAsync("Queued stream events", async cancellationToken =>
            await DrainAsync(dataSource, publisher, cancellationToken) == BatchSize ? TimeSpan.Zero : PollInterval,
            PollInterval, logger, stoppingToken);
    }

    private static async Task<int> DrainAsync(NpgsqlDataSource dataSource, StreamPublisher publisher, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // One drainer at a time, so that items are numbered in the order they were queued.
        var (locked, now) = await connection.QuerySingleAsync<(bool, DateTime)>(new CommandDefinition(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('stream:outbox', 0)), now()", transaction: transaction, cancellationToken: cancellationToken));
        if (!locked) return 0;
        var queued = (await connection.QueryAsync<Queued>(new CommandDefinition("""
            DELETE FROM stream_outbox WHERE id IN (SELECT id FROM stream_outbox ORDER BY id LIMIT @BatchSize)
            RETURNING id, org_id AS OrgId, user_ids AS UserIds, type, data::text AS Data, notification::text AS Notification
            """, new { BatchSize }, transaction, cancellationToken: cancellationToken))).OrderBy(q => q.Id).ToList();
        if (queued.Count == 0) return 0;
        var members = (await connection.QueryAsync<(Guid OrgId, Guid UserId)>(new CommandDefinition(
            "SELECT org_id, user_id FROM memberships WHERE org_id = ANY(@orgs)", new { orgs = queued.Where(q => q.UserIds is null).Select(q => q.OrgId).Distinct().ToArray() },
            transaction, cancellationToken: cancellationToken))).ToLookup(m => m.OrgId, m => m.UserId);

        // Every recipient's head is locked once (sorted, like every other writer), the events numbered in memory.
        var recipients = queued.Select(q => q.UserIds ?? members[q.OrgId].ToArray()).ToList();
        var heads = (await connection.QueryAsync<(Guid UserId, long Seq)>(new CommandDefinition("""
            INSERT INTO stream_heads (user_id, last_seq)
            SELECT u, 0 FROM unnest(@users::uuid[]) AS u ORDER BY u
            ON CONFLICT (user_id) DO UPDATE SET last_seq = stream_heads.last_seq
            RETURNING user_id, last_seq
            """, new { users = recipients.SelectMany(r => r).Distinct().Order().ToArray() }, transaction, cancellationToken: cancellationToken)))
            .ToDictionary(h => h.UserId, h => h.Seq);
        var createdAt = DateTime.SpecifyKind(now, DateTimeKind.Utc);
        var events = new List<StreamEvent>();
        var notifications = new List<(Guid UserId, long Id, Guid OrgId, QueuedNotification Draft, string Data)>();
        for (var i = 0; i < queued.Count; i++)
        {
            var item = queued[i];
            var draft = item.Notification is null ? null : JsonSerializer.Deserialize<QueuedNotification>(item.Notification, JsonSerializerOptions.Web)!;
            foreach (var user in recipients[i])
            {
                var seq = heads[user] += 1;
                if (draft is null)
                {
                    events.Add(new StreamEvent(user, seq, item.Type, item.OrgId, item.Data, createdAt));
                    continue;
                }
                notifications.Add((user, seq, item.OrgId, draft, item.Data));
                // A user's own notification is personal (no org on the event), as the Notifier writes it.
                var response = new NotificationResponse(seq, item.OrgId, draft.Type, draft.Title, draft.Body, JsonDocument.Parse(item.Data).RootElement, createdAt, null);
                events.Add(new StreamEvent(user, seq, item.Type, null, JsonSerializer.Serialize(response, JsonSerializerOptions.Web), createdAt));
            }
        }
        if (events.Count > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE stream_heads h SET last_seq = x.s FROM unnest(@users::uuid[], @seqs::bigint[]) AS x(u, s) WHERE h.user_id = x.u;
                INSERT INTO stream_events (user_id, seq, type, org_id, data, created_at)
                SELECT u, s, t, o, d::jsonb, @createdAt FROM unnest(@eventUsers::uuid[], @eventSeqs::bigint[], @types::text[], @orgs::uuid[], @datas::text[]) AS x(u, s, t, o, d);
                INSERT INTO notifications (user_id, id, org_id, type, title, body, data, created_at)
                SELECT u, n, o, t, ti, b, d::jsonb, @createdAt
                FROM unnest(@noteUsers::uuid[], @noteIds::bigint[], @noteOrgs::uuid[], @noteTypes::text[], @titles::text[], @bodies::text[], @noteDatas::text[])
                    AS x(u, n, o, t, ti, b, d);
                """,
                new
                {
                    users = heads.Keys.ToArray(), seqs = heads.Values.ToArray(), createdAt,
                    eventUsers = events.Select(e => e.UserId).ToArray(), eventSeqs = events.Select(e => e.Seq).ToArray(), types = events.Select(e => e.Type).ToArray(),
                    orgs = events.Select(e => e.OrgId).ToArray(), datas = events.Select(e => e.Data).ToArray(),
                    noteUsers = notifications.Select(n => n.UserId).ToArray(), noteIds = notifications.Select(n => n.Id).ToArray(),
                    noteOrgs = notifications.Select(n => n.OrgId).ToArray(), noteTypes = notifications.Select(n => n.Draft.Type).ToArray(),
                    titles = notifications.Select(n => n.Draft.Title).ToArray(), bodies = notifications.Select(n => n.Draft.Body).ToArray(),
                    noteDatas = notifications.Select(n => n.Data).ToArray(),
                }, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        await publisher.PublishAsync(events);
        return queued.Count;
    }
}
