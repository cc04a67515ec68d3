using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace Service.Infrastructure.Patterns;

/// <summary>A pattern as stored: what its hashes stand for, and its examples as event ids.</summary>
public sealed record WrittenPattern(Guid Id, string Fingerprint, string Kind, IReadOnlyList<PatternItem> Steps, FoundSchedule? Schedule, Guid? SourceId,
    int Sessions, int Days, double Confidence, double Lift, DateTime FirstSeen, DateTime LastSeen, Guid[] Examples);

/// <summary>
/// Turns mined patterns into rows: resolves item hashes, drops what says nothing (steps on one and the same file),
/// keeps the strongest of each kind, and upserts by fingerprint, so a pattern found again keeps its id. Patterns not
/// found again stay, marked inactive: suggestions may point at them.
/// </summary>
public static class PatternWriter
{
    public static async Task<List<WrittenPattern>> WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId,
        IReadOnlyList<FoundPattern> found, IReadOnlyList<MinedSession> sessions, PatternOptions options, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // One read for what the steps stand for and for the exact files at the examples' positions.
        var hashes = found.SelectMany(p => p.Steps.Concat(p.Examples.Select(e => sessions[e.Session].Exacts[e.Position]))).Distinct().ToArray();
        var items = (await connection.QueryAsync<(long Hash, string Type, string? Tool, string Path, bool Exact)>(new CommandDefinition(
            "SELECT hash, type, tool, path, exact FROM pattern_items WHERE org_id = @orgId AND hash = ANY(@hashes)",
            new { orgId, hashes }, transaction, cancellationToken: cancellationToken)))
            .ToDictionary(i => i.Hash, i => new PatternItem(i.Type, i.Tool, i.Path, i.Exact));
        var kept = found
            .Where(p => p.Steps.All(items.ContainsKey))
            .Where(p => !OneFile(p.Steps.Select(h => items[h]).ToList()))
            .GroupBy(p => p.Kind)
            .SelectMany(g => g.OrderByDescending(p => p.Sessions * p.Confidence).ThenBy(p => Fingerprint(p, items)).Take(options.MaxPatternsPerKind))
            .ToList();

        // Example events, found again from the session's source, the second of the example and its exact item (an event
        // removed by retention meanwhile has no example).
        var refs = kept.SelectMany((p, k) => p.Examples.Select(e => (Pattern: k, Session: sessions[e.Session], e.Position))).ToList();
        var located = refs.Where(r => items.ContainsKey(r.Session.Exacts[r.Position])).ToList();
        var exampleIds = (await connection.QueryAsync<(int Pattern, Guid EventId)>(new CommandDefinition("""
            SELECT x.p, e.id
            FROM unnest(@patterns::int[], @sources::uuid[], @froms::timestamptz[], @types::text[], @tools::text[], @paths::text[]) WITH ORDINALITY
                AS x(p, source, at, type, tool, path, n)
            CROSS JOIN LATERAL (
                SELECT e.id FROM events e
                WHERE e.org_id = @orgId AND e.source_id = x.source AND e.occurred_at >= x.at AND e.occurred_at < x.at + interval '1 second'
                  AND e.type = x.type AND e.path = x.path AND e.tool IS NOT DISTINCT FROM x.tool
                ORDER BY e.occurred_at, e.id LIMIT 1) e
            ORDER BY x.n
            """, new
            {
                orgId, patterns = located.Select(r => r.Pattern).ToArray(), sources = located.Select(r => r.Session.SourceId).ToArray(),
                froms = located.Select(r => r.Session.StartedAt.AddSeconds(r.Session.Offsets[r.Position])).ToArray(),
                types = located.Select(r => items[r.Session.Exacts[r.Position]].Type).ToArray(), tools = located.Select(r => items[r.Session.Exacts[r.Position]].Tool).ToArray(),
                paths = located.Select(r => items[r.Session.Exacts[r.Position]].Path).ToArray(),
            }, transaction, cancellationToken: cancellationToken))).ToLookup(x => x.Pattern, x => x.EventId);

        var written = new List<WrittenPattern>();
        for (var k = 0; k < kept.Count; k++)
        {
            var p = kept[k];
            var steps = p.Steps.Select(h => items[h]).ToList();
            var fingerprint = Fingerprint(p, items);
            var id = await connection.ExecuteScalarAsync<Guid>(new CommandDefinition("""
                INSERT INTO patterns (id, org_id, kind, fingerprint, steps, schedule, source_id, support_sessions, support_days, confidence, lift,
                                      first_seen_at, last_seen_at, examples, active, detected_at, updated_at)
                VALUES (@newId, @orgId, @Kind, @fingerprint, @steps::jsonb, @schedule::jsonb, @SourceId, @Sessions, @Days, @Confidence, @Lift,
                        @FirstSeen, @LastSeen, @examples, true, @now, @now)
                ON CONFLICT (org_id, fingerprint) DO UPDATE SET steps = excluded.steps, schedule = excluded.schedule,
                    support_sessions = excluded.support_sessions, support_days = excluded.support_days, confidence = excluded.confidence,
                    lift = excluded.lift, first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at,
                    examples = excluded.examples, active = true, updated_at = excluded.updated_at
                RETURNING id
                """, new
                {
                    newId = Guid.CreateVersion7(), orgId, p.Kind, fingerprint, steps = JsonSerializer.Serialize(steps.Select(s => new { s.Type, s.Tool, s.Path, s.Exact }), JsonSerializerOptions.Web),
                    schedule = p.Schedule is null ? null : JsonSerializer.Serialize(p.Schedule, JsonSerializerOptions.Web), p.SourceId, p.Sessions, p.Days,
                    p.Confidence, p.Lift, p.FirstSeen, p.LastSeen, examples = exampleIds[k].ToArray(), now = now.UtcDateTime,
                }, transaction, cancellationToken: cancellationToken));
            written.Add(new WrittenPattern(id, fingerprint, p.Kind, steps, p.Schedule, p.SourceId, p.Sessions, p.Days, p.Confidence, p.Lift,
                p.FirstSeen, p.LastSeen, exampleIds[k].ToArray()));
        }
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE patterns SET active = false, updated_at = @now WHERE org_id = @orgId AND active AND NOT (fingerprint = ANY(@fingerprints))",
            new { orgId, now = now.UtcDateTime, fingerprints = written.Select(w => w.Fingerprint).ToArray() }, transaction, cancellationToken: cancellationToken));
        return written;
    }

    /// <summary>Opening a file and then saving it, or two actions on one file, is how files are used, not a habit to automate.</summary>
    private static bool OneFile(List<PatternItem> steps) =>
        steps.Count > 1 && steps.Zip(steps.Skip(1)).Any(pair => pair.First.Path == pair.Second.Path);

    /// <summary>Stable across runs: the kind and the steps' keys (a schedule also its source and weekdays, not its exact minute).</summary>
    public static string Fingerprint(FoundPattern p, IReadOnlyDictionary<long, PatternItem> items)
    {
        var keys = p.Steps.Select(h => items[h].Key);
        if (p.Kind == PatternKinds.CoOccurrence) keys = keys.Order(StringComparer.Ordinal);
        var text = $"{p.Kind}\n{string.Join("\n", keys)}\n{p.SourceId}\n{p.Schedule?.Weekdays}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
    }
}
