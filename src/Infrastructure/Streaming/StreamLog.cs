using System.Data.Common;
using Dapper;

namespace Service.Infrastructure.Streaming;

/// <summary>
/// The stream events of users in PostgreSQL: appended in the caller's transaction (numbered per user, in commit
/// order), read back for replay and catch-up.
/// </summary>
public static class StreamLog
{
    /// <summary>
    /// Takes the next number of each user's stream. The head rows stay locked until the transaction ends, so a
    /// concurrent writer for the same user waits and gets the following number only after this one is committed.
    /// </summary>
    public static async Task<IReadOnlyDictionary<Guid, long>> TakeNumbersAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
    {
        // Sorted: two transactions numbering overlapping users lock them in the same order and cannot deadlock.
        var rows = await connection.QueryAsync<(Guid UserId, long Seq)>(new CommandDefinition("""
            INSERT INTO stream_heads (user_id, last_seq)
            SELECT u, 1 FROM unnest(@users::uuid[]) AS u ORDER BY u
            ON CONFLICT (user_id) DO UPDATE SET last_seq = stream_heads.last_seq + 1
            RETURNING user_id, last_seq
            """, new { users = userIds.Distinct().Order().ToArray() }, transaction, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.UserId, r => r.Seq);
    }

    /// <summary>
    /// Locks the stream heads of <paramref name="userIds"/> in one sorted statement, for a transaction that will then
    /// number events for several groups of users: its later <see cref="TakeNumbersAsync"/> calls find the rows already
    /// locked, so two such transactions cannot take overlapping locks in opposite orders and deadlock.
    /// </summary>
    public static Task LockHeadsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO stream_heads (user_id, last_seq)
            SELECT u, 0 FROM unnest(@users::uuid[]) AS u ORDER BY u
            ON CONFLICT (user_id) DO UPDATE SET last_seq = stream_heads.last_seq
            """, new { users = userIds.Distinct().Order().ToArray() }, transaction, cancellationToken: cancellationToken));

    /// <summary>Writes events whose numbers came from <see cref="TakeNumbersAsync"/>.</summary>
    public static async Task<IReadOnlyList<StreamEvent>> WriteAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyList<(Guid UserId, long Seq, string Data)> events, string type, Guid? orgId, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return [];
        var createdAt = await connection.ExecuteScalarAsync<DateTime>(new CommandDefinition("""
            INSERT INTO stream_events (user_id, seq, type, org_id, data)
            SELECT u, s, @type, @orgId, d::jsonb FROM unnest(@users::uuid[], @seqs::bigint[], @datas::text[]) AS x(u, s, d)
            RETURNING created_at
            """, new { type, orgId, users = events.Select(e => e.UserId).ToArray(), seqs = events.Select(e => e.Seq).ToArray(), datas = events.Select(e => e.Data).ToArray() },
            transaction, cancellationToken: cancellationToken));
        return events.Select(e => new StreamEvent(e.UserId, e.Seq, type, orgId, e.Data, DateTime.SpecifyKind(createdAt, DateTimeKind.Utc))).ToList();
    }

    /// <summary>
    /// An organization's event (run.updated, suggestion.created...) for each of its current members, in the
    /// caller's transaction. Publish the result after commit.
    /// </summary>
    public static async Task<IReadOnlyList<StreamEvent>> AppendForOrgAsync(DbConnection connection, DbTransaction transaction,
        Guid orgId, string type, string data, CancellationToken cancellationToken)
    {
        var members = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT user_id FROM memberships WHERE org_id = @orgId", new { orgId }, transaction, cancellationToken: cancellationToken))).ToList();
        var numbers = await TakeNumbersAsync(connection, transaction, members, cancellationToken);
        return await WriteAsync(connection, transaction, numbers.Select(n => (n.Key, n.Value, data)).ToList(), type, orgId, cancellationToken);
    }

    /// <summary>The user's events after <paramref name="after"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public static async Task<IReadOnlyList<StreamEvent>> ReadAfterAsync(DbConnection connection, Guid userId, long after, long? through, int limit,
        CancellationToken cancellationToken) =>
        (await connection.QueryAsync<StreamEvent>(new CommandDefinition("""
            SELECT user_id AS UserId, seq AS Seq, type AS Type, org_id AS OrgId, data::text AS Data, created_at AS CreatedAt
            FROM stream_events WHERE user_id = @userId AND seq > @after AND (@through::bigint IS NULL OR seq <= @through)
            ORDER BY seq LIMIT @limit
            """, new { userId, after, through, limit }, cancellationToken: cancellationToken))).ToList();

    /// <summary>The number of each user's newest committed event (users without any are left out).</summary>
    public static async Task<Dictionary<Guid, long>> ReadHeadsAsync(DbConnection connection, IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(Guid UserId, long Seq)>(new CommandDefinition(
            "SELECT user_id, last_seq FROM stream_heads WHERE user_id = ANY(@users)", new { users = userIds.ToArray() }, cancellationToken: cancellationToken)))
        .ToDictionary(r => r.UserId, r => r.Seq);

    /// <summary>The organizations (not deleted) each user belongs to.</summary>
    public static async Task<ILookup<Guid, Guid>> ReadMembershipsAsync(DbConnection connection, IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(Guid UserId, Guid OrgId)>(new CommandDefinition("""
            SELECT m.user_id, m.org_id FROM memberships m JOIN organizations o ON o.id = m.org_id
            WHERE m.user_id = ANY(@users) AND o.deleted_at IS NULL
            """, new { users = userIds.ToArray() }, cancellationToken: cancellationToken)))
        .ToLookup(r => r.UserId, r => r.OrgId);
}
