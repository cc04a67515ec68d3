using System.IO.Pipelines;
using System.Text.Json;
using System.Threading.Channels;
using Npgsql;

namespace Service.Infrastructure.Streaming;

/// <summary>
/// One open stream: events offered by the hub queue here and one loop writes them in number order. Whatever does not
/// follow the last number written (lost on Redis, dropped because this client is slow, published out of order by two
/// instances) is read from PostgreSQL first, so the client sees every event once, in order.
/// </summary>
public sealed class StreamConnection(Guid userId, DateTimeOffset? expiresAt, NpgsqlDataSource dataSource)
{
    // A client this far behind is caught up from PostgreSQL instead of from memory.
    private const int QueueCapacity = 64;
    private const int CatchUpPage = 500;
    private static readonly StreamEvent Heartbeat = new(Guid.Empty, -1, "", null, "", default);
    private static readonly StreamEvent Wake = new(Guid.Empty, -2, "", null, "", default);

    private readonly Channel<StreamEvent> _incoming = Channel.CreateBounded<StreamEvent>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _closing = new();
    private readonly Lock _orgsGate = new();
    private HashSet<Guid> _orgs = [];
    private long _orgsAsOf;
    private long _lastSeq;
    private int _behind;

    public Guid Id { get; } = Guid.NewGuid();
    public Guid UserId => userId;
    public DateTimeOffset? ExpiresAt => expiresAt;
    public long LastSeq => Volatile.Read(ref _lastSeq);
    public string? CloseReason { get; private set; }

    /// <summary>Queues a live event; when the queue is full the event is dropped and read back from PostgreSQL.</summary>
    public void Offer(StreamEvent e)
    {
        if (e.Seq <= LastSeq) return;
        if (!_incoming.Writer.TryWrite(e)) MarkBehind();
    }

    public void SendHeartbeat() => _incoming.Writer.TryWrite(Heartbeat);

    /// <summary>PostgreSQL holds events this stream has not written: read them on the next turn of the loop.</summary>
    public void MarkBehind()
    {
        Volatile.Write(ref _behind, 1);
        _incoming.Writer.TryWrite(Wake);
    }

    /// <summary>Ends the stream with a stream.closed event naming the reason.</summary>
    public void Close(string reason)
    {
        CloseReason ??= reason;
        try { _closing.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>The organizations the user belongs to, as read when their stream stood at <paramref name="asOfSeq"/>.</summary>
    public void ReplaceOrgs(IEnumerable<Guid> orgs, long asOfSeq)
    {
        var set = orgs.ToHashSet();
        lock (_orgsGate) (_orgs, _orgsAsOf) = (set, asOfSeq);
    }

    private bool IsMember(Guid orgId)
    {
        lock (_orgsGate) return _orgs.Contains(orgId);
    }

    /// <summary>
    /// Writes the opening of the stream: where it starts and, when resuming, what was missed (or a reset when more
    /// was missed than <paramref name="options"/> allow). Call after the hub has registered this connection, so that
    /// nothing committed meanwhile is skipped: it is either read here or queued, and duplicates are dropped by number.
    /// </summary>
    public async Task OpenAsync(PipeWriter writer, long? lastEventId, StreamOptions options, DateTime now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // The head first: memberships read after it are at least as new, and a membership notice numbered above it
        // is followed as it passes (applying one already reflected here changes nothing).
        var head = (await StreamLog.ReadHeadsAsync(connection, [userId], cancellationToken)).GetValueOrDefault(userId);
        ReplaceOrgs((await StreamLog.ReadMembershipsAsync(connection, [userId], cancellationToken))[userId], head);
        if (lastEventId is not { } after)
        {
            Volatile.Write(ref _lastSeq, head);
            SseWriter.WriteEvent(writer, StreamEventTypes.Open, Json(new { position = head, resumed = false }), head, options.RetryMilliseconds);
            return;
        }

        var missed = after < head
            ? await StreamLog.ReadAfterAsync(connection, userId, after, head, options.ReplayMaxEvents + 1, cancellationToken)
            : [];
        var reset = after > head ? "unknown_position"
            : missed.Count > options.ReplayMaxEvents ? "too_many_missed"
            : after < head && (missed.Count == 0 || missed[0].Seq != after + 1 || missed[0].CreatedAt < now.AddHours(-options.ReplayHours)) ? "too_old"
            : null;
        if (reset is not null)
        {
            Volatile.Write(ref _lastSeq, head);
            SseWriter.WriteEvent(writer, StreamEventTypes.Open, Json(new { position = head, resumed = false }), head, options.RetryMilliseconds);
            SseWriter.WriteEvent(writer, StreamEventTypes.Reset, Json(new { reason = reset, missedAfter = after, position = head }), head);
            return;
        }
        Volatile.Write(ref _lastSeq, after);
        SseWriter.WriteEvent(writer, StreamEventTypes.Open, Json(new { position = after, resumed = true }), after, options.RetryMilliseconds);
        foreach (var e in missed) Write(writer, e);
    }

    /// <summary>Writes queued events, heartbeats and catch-ups until the client leaves or <see cref="Close"/> is called.</summary>
    public async Task PumpAsync(PipeWriter writer, CancellationToken requestAborted)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _closing.Token);
        var cancellationToken = linked.Token;
        try
        {
            await writer.FlushAsync(cancellationToken);
            while (await _incoming.Reader.WaitToReadAsync(cancellationToken))
            {
                while (_incoming.Reader.TryRead(out var item))
                {
                    if (ReferenceEquals(item, Heartbeat)) SseWriter.WriteHeartbeat(writer);
                    else if (!ReferenceEquals(item, Wake)) await DeliverAsync(writer, item, cancellationToken);
                }
                if (Interlocked.Exchange(ref _behind, 0) == 1) await CatchUpAsync(writer, through: null, cancellationToken);
                var flushed = await writer.FlushAsync(cancellationToken);
                if (flushed.IsCompleted || flushed.IsCanceled) return; // the client is gone
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested && !requestAborted.IsCancellationRequested)
        {
            // Reconnecting is right after a shutdown (another instance serves) or an expired token (with a new one);
            // after the kill switch the gate answers 503 until it is turned back on.
            SseWriter.WriteEvent(writer, StreamEventTypes.Closed, Json(new { reason = CloseReason, reconnect = CloseReason != "disabled" }));
            await writer.FlushAsync(requestAborted);
        }
        finally
        {
            _closing.Dispose();
        }
    }

    private async Task DeliverAsync(PipeWriter writer, StreamEvent e, CancellationToken cancellationToken)
    {
        if (e.Seq <= LastSeq) return;
        // A gap: the events in between are committed (numbers are taken in commit order), so PostgreSQL has them.
        if (e.Seq > LastSeq + 1 && !await CatchUpAsync(writer, e.Seq - 1, cancellationToken)) return;
        if (e.Seq > LastSeq) Write(writer, e);
    }

    /// <summary>False when PostgreSQL could not be read: nothing is skipped, the hub's next sweep tries again.</summary>
    private async Task<bool> CatchUpAsync(PipeWriter writer, long? through, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            IReadOnlyList<StreamEvent> page;
            do
            {
                page = await StreamLog.ReadAfterAsync(connection, userId, LastSeq, through, CatchUpPage, cancellationToken);
                foreach (var e in page) Write(writer, e);
            } while (page.Count == CatchUpPage);
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            Volatile.Write(ref _behind, 1);
            return false;
        }
    }

    private void Write(PipeWriter writer, StreamEvent e)
    {
        Volatile.Write(ref _lastSeq, e.Seq);
        if (e.OrgId is { } orgId && !IsMember(orgId)) return;
        SseWriter.WriteEvent(writer, e.Type, e.Data, e.Seq);
        FollowMembership(e);
    }

    /// <summary>
    /// A notification that this user joined or left an organization changes which organization events the stream
    /// carries from here on, without waiting for the hub's next membership sweep. A removal always applies; an
    /// addition only when it is newer than the memberships last read (a replay must not bring back a past membership).
    /// </summary>
    private void FollowMembership(StreamEvent e)
    {
        if (e.Type != StreamEventTypes.NotificationCreated || !e.Data.Contains("\"membership.", StringComparison.Ordinal)) return;
        using var document = JsonDocument.Parse(e.Data);
        var root = document.RootElement;
        if (!root.TryGetProperty("orgId", out var org) || !org.TryGetGuid(out var orgId)) return;
        var type = root.GetProperty("type").GetString();
        lock (_orgsGate)
        {
            if (type == MembershipNotices.Removed) _orgs.Remove(orgId);
            else if (type is MembershipNotices.Added or MembershipNotices.RoleChanged && e.Seq > _orgsAsOf) _orgs.Add(orgId);
        }
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, JsonSerializerOptions.Web);
}

/// <summary>The notification types that change a user's memberships; the stream follows them.</summary>
public static class MembershipNotices
{
    public const string Added = "membership.added";
    public const string RoleChanged = "membership.role_changed";
    public const string Removed = "membership.removed";
}
