using System.Runtime.InteropServices;
using Npgsql;
using NpgsqlTypes;

namespace Service.Infrastructure.Patterns;

/// <summary>
/// Reads what a detection run has not seen (events received after the watermark, and each source's open session
/// again), splits each source's events into sessions at the session gap, and prepares what the run keeps: closed
/// sessions, the sources' open tails, new items and the overview's rollups (of the new events only, so each event is
/// counted once). A session closes when a later event of its source comes after the gap, or when the source has sent
/// nothing for the gap. Events that arrive after their session was closed form a session of their own.
/// </summary>
public sealed class SessionBuilder
{
    private readonly record struct Row(Guid Id, int Source, DateTime OccurredAt, DateTime ReceivedAt, int Key, bool Fresh);

    /// <summary>What one distinct (type, tool, path) stands for: its two item hashes and its template.</summary>
    private readonly record struct Key(long Item, long Exact, int Type, int Template);

    private readonly struct ByTime : IComparer<Row>
    {
        public int Compare(Row x, Row y) => x.OccurredAt != y.OccurredAt ? x.OccurredAt.CompareTo(y.OccurredAt) : x.Id.CompareTo(y.Id);
    }

    /// <summary>
    /// Rows grouped by source (a counting sort), each source's in time order. A source's events mostly arrive in
    /// order, so most groups are only checked, not sorted.
    /// </summary>
    private static Row[] InSessionOrder(List<Row> rows, int sources)
    {
        var starts = new int[sources + 1];
        foreach (var row in rows) starts[row.Source + 1]++;
        for (var i = 1; i <= sources; i++) starts[i] += starts[i - 1];
        var next = (int[])starts.Clone();
        var ordered = new Row[rows.Count];
        foreach (var row in rows) ordered[next[row.Source]++] = row;
        var comparer = new ByTime();
        for (var source = 0; source < sources; source++)
        {
            var span = ordered.AsSpan(starts[source], starts[source + 1] - starts[source]);
            for (var i = 1; i < span.Length; i++)
            {
                if (comparer.Compare(span[i - 1], span[i]) <= 0) continue;
                span.Sort(comparer);
                break;
            }
        }
        return ordered;
    }


    private readonly List<(MinedSession Session, DateTime EndedAt)> _closed = [];
    private readonly List<(Guid Source, DateTime? TailStart, DateTime LastReceived)> _sources = [];
    private readonly Dictionary<long, (string Type, string? Tool, string Path, bool Exact)> _items = [];
    // New events by day (DayNumber) and type, source or template (indexes into _types, _sourceIds, _templates).
    private readonly Dictionary<(int Day, int Type), long> _byType = [];
    private readonly Dictionary<(int Day, int Source), long> _bySource = [];
    private readonly Dictionary<(int Day, int Template), long> _byTemplate = [];
    private readonly List<string> _types = [];
    private readonly List<string> _templates = [];
    private readonly List<Key> _keys = [];
    private readonly List<Guid> _sourceIds = [];

    public int EventsRead { get; private set; }
    public int ClosedSessions => _closed.Count;

    /// <summary>The sessions this run closed, as mining reads them.</summary>
    public IEnumerable<MinedSession> Closed => _closed.Select(c => c.Session);

    public static async Task<SessionBuilder> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, DateTime watermark,
        DateTime safe, PatternOptions options, CancellationToken cancellationToken)
    {
        var builder = new SessionBuilder();
        var sourceIds = builder._sourceIds;
        var sourceIndex = new Dictionary<Guid, int>();
        var lastReceived = new Dictionary<Guid, DateTime>();
        await using (var sources = new NpgsqlCommand("SELECT source_id, last_received_at FROM pattern_sources WHERE org_id = $1 AND tail_start IS NOT NULL", connection, transaction))
        {
            sources.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = orgId });
            await using var reader = await sources.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) lastReceived[reader.GetGuid(0)] = reader.GetDateTime(1);
        }
        var rows = new List<Row>();
        var keys = new Dictionary<(string Type, string? Tool, string Path), int>();
        var types = new Dictionary<string, int>();
        var templates = new Dictionary<string, int>();
        int Index(Dictionary<string, int> index, List<string> list, string value)
        {
            ref var found = ref CollectionsMarshal.GetValueRefOrAddDefault(index, value, out var exists);
            if (!exists) { found = list.Count; list.Add(value); }
            return found;
        }
        await using (var command = new NpgsqlCommand("""
            SELECT e.id, e.source_id, e.type, e.tool, e.path, e.occurred_at, e.received_at, true
            FROM events e WHERE e.org_id = $1 AND e.received_at > $2 AND e.received_at <= $3
            UNION ALL
            SELECT e.id, e.source_id, e.type, e.tool, e.path, e.occurred_at, e.received_at, false
            FROM pattern_sources s JOIN events e ON e.org_id = s.org_id AND e.source_id = s.source_id AND e.occurred_at >= s.tail_start
            WHERE s.org_id = $1 AND s.tail_start IS NOT NULL AND e.received_at <= $2
            """, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = orgId });
            command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = watermark });
            command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = safe });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var sourceId = reader.GetGuid(1);
                ref var source = ref CollectionsMarshal.GetValueRefOrAddDefault(sourceIndex, sourceId, out var known);
                if (!known) { source = sourceIds.Count; sourceIds.Add(sourceId); }
                var (type, tool, path) = (reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4));
                ref var key = ref CollectionsMarshal.GetValueRefOrAddDefault(keys, (type, tool, path), out var seen);
                if (!seen)
                {
                    var template = PatternItem.Template(path);
                    key = builder._keys.Count;
                    builder._keys.Add(new Key(PatternItem.HashOf(type, tool, template, false), PatternItem.HashOf(type, tool, path, true),
                        Index(types, builder._types, type), Index(templates, builder._templates, template)));
                    builder._items.TryAdd(builder._keys[key].Item, (type, tool, template, false));
                    builder._items.TryAdd(builder._keys[key].Exact, (type, tool, path, true));
                }
                var (occurredAt, receivedAt, fresh) = (reader.GetDateTime(5), reader.GetDateTime(6), reader.GetBoolean(7));
                rows.Add(new Row(reader.GetGuid(0), source, occurredAt, receivedAt, key, fresh));
                if (fresh)
                {
                    var day = DateOnly.FromDateTime(occurredAt).DayNumber;
                    CollectionsMarshal.GetValueRefOrAddDefault(builder._byType, (day, builder._keys[key].Type), out _)++;
                    CollectionsMarshal.GetValueRefOrAddDefault(builder._bySource, (day, source), out _)++;
                    CollectionsMarshal.GetValueRefOrAddDefault(builder._byTemplate, (day, builder._keys[key].Template), out _)++;
                }
            }
        }
        builder.EventsRead = rows.Count(r => r.Fresh);
        var ordered = InSessionOrder(rows, sourceIds.Count);
        rows.Clear();

        var gap = options.SessionGap;
        int start = 0, sourceBegins = 0;
        for (var i = 1; i <= ordered.Length; i++)
        {
            var split = i == ordered.Length || ordered[i].Source != ordered[start].Source || ordered[i].OccurredAt - ordered[i - 1].OccurredAt > gap || i - start >= options.MaxSessionEvents;
            if (!split) continue;
            var endOfSource = i == ordered.Length || ordered[i].Source != ordered[start].Source;
            var sourceId = sourceIds[ordered[start].Source];
            if (!endOfSource)
            {
                builder._closed.Add(builder.Build(sourceId, ordered, start, i));
                start = i;
                continue;
            }
            // The source's last session stays open (read again next time) until the source has been quiet for the gap:
            // nothing of it received for that long.
            var quietSince = lastReceived.TryGetValue(sourceId, out var earlier) ? earlier : DateTime.MinValue;
            for (var k = sourceBegins; k < i; k++) if (ordered[k].ReceivedAt > quietSince) quietSince = ordered[k].ReceivedAt;
            sourceBegins = i;
            if (safe - quietSince > gap)
            {
                builder._closed.Add(builder.Build(sourceId, ordered, start, i));
                builder._sources.Add((sourceId, null, quietSince));
            }
            else builder._sources.Add((sourceId, ordered[start].OccurredAt, quietSince));
            lastReceived.Remove(sourceId);
            start = i;
        }
        // Sources whose open session had no events to read (removed by retention) are closed.
        foreach (var (sourceId, received) in lastReceived) builder._sources.Add((sourceId, null, received));
        return builder;
    }

    private (MinedSession Session, DateTime EndedAt) Build(Guid sourceId, Row[] rows, int start, int end)
    {
        var span = rows.AsSpan(start, end - start);
        var first = span[0].OccurredAt;
        var offsets = new int[span.Length];
        var items = new long[span.Length];
        var exacts = new long[span.Length];
        for (var k = 0; k < span.Length; k++)
        {
            offsets[k] = (int)Math.Min(int.MaxValue, (span[k].OccurredAt - first).TotalSeconds);
            items[k] = _keys[span[k].Key].Item;
            exacts[k] = _keys[span[k].Key].Exact;
        }
        return (new MinedSession(sourceId, first, items, exacts, offsets), span[^1].OccurredAt);
    }


    /// <summary>Writes the closed sessions (binary COPY), the sources' tails, new items and the rollups.</summary>
    public async Task SaveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, CancellationToken cancellationToken)
    {
        if (_closed.Count > 0)
        {
            await using var copy = await connection.BeginBinaryImportAsync(
                "COPY pattern_sessions (org_id, source_id, started_at, ended_at, items, exacts, offsets) FROM STDIN (FORMAT BINARY)", cancellationToken);
            foreach (var (session, endedAt) in _closed)
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(orgId, NpgsqlDbType.Uuid, cancellationToken);
                await copy.WriteAsync(session.SourceId, NpgsqlDbType.Uuid, cancellationToken);
                await copy.WriteAsync(session.StartedAt, NpgsqlDbType.TimestampTz, cancellationToken);
                await copy.WriteAsync(endedAt, NpgsqlDbType.TimestampTz, cancellationToken);
                await copy.WriteAsync(MemoryMarshal.AsBytes(session.Items.AsSpan()).ToArray(), NpgsqlDbType.Bytea, cancellationToken);
                await copy.WriteAsync(MemoryMarshal.AsBytes(session.Exacts.AsSpan()).ToArray(), NpgsqlDbType.Bytea, cancellationToken);
                await copy.WriteAsync(MemoryMarshal.AsBytes(session.Offsets.AsSpan()).ToArray(), NpgsqlDbType.Bytea, cancellationToken);
            }
            await copy.CompleteAsync(cancellationToken);
        }
        await ExecuteAsync(connection, transaction, """
            INSERT INTO pattern_sources (org_id, source_id, tail_start, last_received_at)
            SELECT $1, s, t, r FROM unnest($2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS x(s, t, r)
            ON CONFLICT (org_id, source_id) DO UPDATE SET tail_start = excluded.tail_start, last_received_at = excluded.last_received_at
            """, cancellationToken, orgId, _sources.Select(s => s.Source).ToArray(), _sources.Select(s => s.TailStart).ToArray(), _sources.Select(s => s.LastReceived).ToArray());
        var items = _items.ToList();
        await ExecuteAsync(connection, transaction, """
            INSERT INTO pattern_items (org_id, hash, type, tool, path, exact)
            SELECT $1, h, ty, tl, p, e FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::boolean[]) AS x(h, ty, tl, p, e)
            ON CONFLICT (org_id, hash) DO NOTHING
            """, cancellationToken, orgId, items.Select(i => i.Key).ToArray(), items.Select(i => i.Value.Type).ToArray(),
            items.Select(i => i.Value.Tool).ToArray(), items.Select(i => i.Value.Path).ToArray(), items.Select(i => i.Value.Exact).ToArray());
        await ExecuteAsync(connection, transaction, """
            INSERT INTO event_rollup_types (org_id, day, type, events) SELECT $1, d, k, n FROM unnest($2::date[], $3::text[], $4::bigint[]) AS x(d, k, n)
            ON CONFLICT (org_id, day, type) DO UPDATE SET events = event_rollup_types.events + excluded.events
            """, cancellationToken, orgId, _byType.Keys.Select(k => DateOnly.FromDayNumber(k.Day)).ToArray(), _byType.Keys.Select(k => _types[k.Type]).ToArray(), _byType.Values.ToArray());
        await ExecuteAsync(connection, transaction, """
            INSERT INTO event_rollup_sources (org_id, day, source_id, events) SELECT $1, d, k, n FROM unnest($2::date[], $3::uuid[], $4::bigint[]) AS x(d, k, n)
            ON CONFLICT (org_id, day, source_id) DO UPDATE SET events = event_rollup_sources.events + excluded.events
            """, cancellationToken, orgId, _bySource.Keys.Select(k => DateOnly.FromDayNumber(k.Day)).ToArray(), _bySource.Keys.Select(k => _sourceIds[k.Source]).ToArray(), _bySource.Values.ToArray());
        await ExecuteAsync(connection, transaction, """
            INSERT INTO event_rollup_paths (org_id, day, template, events) SELECT $1, d, k, n FROM unnest($2::date[], $3::text[], $4::bigint[]) AS x(d, k, n)
            ON CONFLICT (org_id, day, template) DO UPDATE SET events = event_rollup_paths.events + excluded.events
            """, cancellationToken, orgId, _byTemplate.Keys.Select(k => DateOnly.FromDayNumber(k.Day)).ToArray(), _byTemplate.Keys.Select(k => _templates[k.Template]).ToArray(), _byTemplate.Values.ToArray());
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
