using System.Data.Common;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Service.Infrastructure.Caching;
using Service.Infrastructure.Database;

namespace Service.Infrastructure.Patterns;

/// <summary>What one detection run did, kept as the organization's detection status.</summary>
/// <param name="ReadSeconds">Reading new events and keeping sessions and rollups.</param>
/// <param name="MineSeconds">Loading the closed sessions of the lookback window and mining them.</param>
/// <param name="WriteSeconds">Writing patterns and suggestions.</param>
public sealed record DetectionStats(int EventsRead, int SessionsClosed, int SessionsMined, int Patterns, int NewSuggestions, double Seconds, bool Mined,
    double ReadSeconds = 0, double MineSeconds = 0, double WriteSeconds = 0);

/// <summary>
/// One organization's detection run, in one transaction under an advisory lock (one run per organization at a time,
/// whatever the instances do): read the events received since the watermark and each source's open session, close
/// the sessions that ended, keep them and the overview's rollups, then mine every closed session of the lookback
/// window and write patterns and suggestions. A run that fails leaves nothing behind; the next one starts over.
/// </summary>
public sealed class PatternDetection(
    [FromKeyedServices(DatabaseRegistration.Background)] NpgsqlDataSource dataSource, IOptions<PatternOptions> options,
    SuggestionWriter suggestions, OrgReadCache cache, TimeProvider time, ILogger<PatternDetection> logger)
{
    private const string LockKey = "hashtextextended('patterns:' || @orgId::text, 0)";

    /// <summary>Waits for a running detection of the organization and keeps the next one out until the caller's transaction ends.</summary>
    public static Task LockAsync(DbConnection connection, DbTransaction transaction, Guid orgId, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition($"SELECT pg_advisory_xact_lock({LockKey})", new { orgId }, transaction, cancellationToken: cancellationToken));

    /// <summary>Runs detection now; null when another run of the organization holds the lock.</summary>
    public async Task<DetectionStats?> RunAsync(Guid orgId, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var clock = Stopwatch.StartNew();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var (locked, runStart) = await connection.QuerySingleAsync<(bool, DateTime)>(new CommandDefinition($"SELECT pg_try_advisory_xact_lock({LockKey}), now()",
            new { orgId }, transaction, cancellationToken: cancellationToken));
        if (!locked) return null;
        var requested = await MarkRunningAsync(orgId, runStart, cancellationToken);
        try
        {
            var stats = await DetectAsync(connection, transaction, orgId, requested, o, clock, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            if (stats.Mined) await cache.InvalidateAsync(orgId, cancellationToken);
            return stats;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            try
            {
                await using var failed = await dataSource.OpenConnectionAsync(CancellationToken.None);
                await failed.ExecuteAsync("UPDATE pattern_state SET status = 'failed', finished_at = now(), error = @error WHERE org_id = @orgId",
                    new { orgId, error = $"Detection failed ({e.GetType().Name}); it runs again at the next interval." });
            }
            catch (NpgsqlException)
            {
                // The database is what failed: the status says running until the next run.
            }
            throw;
        }
    }

    /// <summary>
    /// Shows the run to clients polling the status; true when a client asked for it or it is the first. A request made
    /// after the run's transaction began stays pending: the run cannot see events received after its start (its
    /// watermark stops before the oldest open transaction, its own included), so that client gets a run of its own.
    /// </summary>
    private async Task<bool> MarkRunningAsync(Guid orgId, DateTime runStart, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool?>(new CommandDefinition("""
            WITH before AS (SELECT (requested_at IS NOT NULL AND requested_at <= @runStart) OR finished_at IS NULL AS requested FROM pattern_state WHERE org_id = @orgId),
            marked AS (
                INSERT INTO pattern_state (org_id, status, started_at) VALUES (@orgId, 'running', now())
                ON CONFLICT (org_id) DO UPDATE SET status = 'running', started_at = now(), error = NULL,
                    requested_at = CASE WHEN pattern_state.requested_at > @runStart THEN pattern_state.requested_at END)
            SELECT coalesce((SELECT requested FROM before), true)
            """, new { orgId, runStart }, cancellationToken: cancellationToken)) ?? true;
    }

    private async Task<DetectionStats> DetectAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, bool requested, PatternOptions o,
        Stopwatch clock, CancellationToken cancellationToken)
    {
        // Events are acknowledged when their transaction commits, but carry its start time: a transaction still open
        // may yet add events older than now. The safe point stops before the oldest one (ingest transactions are short).
        var (watermark, safe, now) = await connection.QuerySingleAsync<(DateTime Watermark, DateTime Safe, DateTime Now)>(new CommandDefinition("""
            SELECT coalesce((SELECT watermark FROM pattern_state WHERE org_id = @orgId), '-infinity'),
                   LEAST(now(), (SELECT min(xact_start) FROM pg_stat_activity
                                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
                                   AND xact_start > now() - interval '5 minutes')) - interval '1 microsecond',
                   now()
            """, new { orgId }, transaction, cancellationToken: cancellationToken));
        var batch = await SessionBuilder.ReadAsync(connection, transaction, orgId, watermark, safe, o, cancellationToken);
        var mined = batch.ClosedSessions > 0 || requested;
        // The sessions kept before this run are read before its own are written: those are in memory already.
        var since = now.AddDays(-o.LookbackDays);
        var stored = mined ? await LoadSessionsAsync(connection, transaction, orgId, since, cancellationToken) : [];
        var sessions = stored.Concat(batch.Closed.Where(c => c.StartedAt >= since)).OrderBy(c => c.StartedAt).ThenBy(c => c.SourceId).ToList();
        // Mining needs no database: it runs while this run's sessions and rollups are written.
        var mining = mined ? Task.Run(() => PatternMiner.Mine(sessions, o), cancellationToken) : null;
        await batch.SaveAsync(connection, transaction, orgId, cancellationToken);

        var read = clock.Elapsed.TotalSeconds;
        double mine = read, write = read;
        int sessionsMined = 0, patterns = 0, newSuggestions = 0;
        if (mined)
        {
            sessionsMined = sessions.Count;
            var found = await mining!;
            mine = clock.Elapsed.TotalSeconds;
            var written = await PatternWriter.WriteAsync(connection, transaction, orgId, found, sessions, o, time.GetUtcNow(), cancellationToken);
            patterns = written.Count;
            newSuggestions = await suggestions.WriteAsync(connection, transaction, orgId, written, time.GetUtcNow(), cancellationToken);
            write = clock.Elapsed.TotalSeconds;
        }
        // Sessions older than the lookback window are never mined again.
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM pattern_sessions WHERE org_id = @orgId AND started_at < @since",
            new { orgId, since }, transaction, cancellationToken: cancellationToken));
        var stats = new DetectionStats(batch.EventsRead, batch.ClosedSessions, sessionsMined, patterns, newSuggestions, Math.Round(clock.Elapsed.TotalSeconds, 3), mined,
            Math.Round(read, 3), Math.Round(mine - read, 3), Math.Round(write - mine, 3));
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE pattern_state SET watermark = @safe, status = 'succeeded', finished_at = now(), error = NULL, stats = @stats::jsonb WHERE org_id = @orgId
            """, new { orgId, safe, stats = JsonSerializer.Serialize(stats, JsonSerializerOptions.Web) }, transaction, cancellationToken: cancellationToken));
        logger.LogInformation("Detection for {OrgId}: {Events} events read, {Closed} sessions closed, {Patterns} patterns, {Suggestions} new suggestions in {Seconds} s",
            orgId, stats.EventsRead, stats.SessionsClosed, stats.Patterns, stats.NewSuggestions, stats.Seconds);
        return stats;
    }

    private static async Task<List<MinedSession>> LoadSessionsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId,
        DateTime since, CancellationToken cancellationToken)
    {
        var sessions = new List<MinedSession>();
        await using var command = new NpgsqlCommand("""
            SELECT source_id, started_at, items, exacts, offsets FROM pattern_sessions
            WHERE org_id = $1 AND started_at >= $2
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = orgId });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = since });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            sessions.Add(new MinedSession(reader.GetGuid(0), reader.GetDateTime(1), MemoryMarshal.Cast<byte, long>(reader.GetFieldValue<byte[]>(2)).ToArray(),
                MemoryMarshal.Cast<byte, long>(reader.GetFieldValue<byte[]>(3)).ToArray(), MemoryMarshal.Cast<byte, int>(reader.GetFieldValue<byte[]>(4)).ToArray()));
        }
        return sessions;
    }
}
