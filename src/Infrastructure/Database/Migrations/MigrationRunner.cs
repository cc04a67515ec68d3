using System.Diagnostics;
using Dapper;
using Npgsql;

namespace Service.Infrastructure.Database.Migrations;

/// <summary>
/// Applies and reverts migrations. Every change happens under one PostgreSQL advisory lock, re-reading what is
/// applied after taking it, so instances starting at once apply each migration exactly once; each migration runs
/// in its own transaction together with its schema_migrations row.
/// </summary>
public sealed class MigrationRunner(NpgsqlDataSource dataSource, MigrationCatalog catalog, ILogger<MigrationRunner> logger)
{
    // Any fixed number works; it only has to be the same for every instance of this service.
    private const long AdvisoryLockKey = 0x5EED_2026_0001;

    private const string CreateTableSql = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version      bigint PRIMARY KEY,
            name         text        NOT NULL,
            checksum     text        NOT NULL,
            applied_at   timestamptz NOT NULL DEFAULT now(),
            execution_ms integer     NOT NULL
        )
        """;

    public MigrationCatalog Catalog => catalog;

    /// <summary>Reads the state without changing anything (no table is created).</summary>
    public async Task<MigrationStatus> GetStatusAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await ReadStatusAsync(connection, cancellationToken);
    }

    /// <summary>Applies pending migrations up to <paramref name="toVersion"/> (all when null), returning what it applied.</summary>
    public Task<IReadOnlyList<Migration>> MigrateUpAsync(long? toVersion, CancellationToken cancellationToken) =>
        UnderLockAsync(async (connection, status) =>
        {
            var applied = new List<Migration>();
            foreach (var migration in status.Pending.Where(m => toVersion is null || m.Version <= toVersion))
            {
                await RunAsync(connection, migration, migration.UpSql, up: true, cancellationToken);
                applied.Add(migration);
            }
            return (IReadOnlyList<Migration>)applied;
        }, cancellationToken);

    /// <summary>Reverts applied migrations above <paramref name="toVersion"/>, newest first. Refuses before changing anything if a down script is missing.</summary>
    public Task<IReadOnlyList<Migration>> MigrateDownAsync(long toVersion, CancellationToken cancellationToken) =>
        UnderLockAsync(async (connection, status) =>
        {
            var unknown = status.UnknownApplied.Where(a => a.Version > toVersion).ToList();
            if (unknown.Count > 0)
            {
                throw new MigrationException($"cannot revert {string.Join(", ", unknown.Select(u => u.Label))}: this build does not know it; run the build that applied it.");
            }
            var targets = status.Known.Where(s => s.IsApplied && s.Migration.Version > toVersion)
                .Select(s => s.Migration).OrderByDescending(m => m.Version).ToList();
            var missing = targets.Where(m => m.DownSql is null).ToList();
            if (missing.Count > 0)
            {
                throw new MigrationException($"no down script for {string.Join(", ", missing.Select(m => m.Label))}; nothing was reverted.");
            }
            foreach (var migration in targets)
            {
                await RunAsync(connection, migration, migration.DownSql!, up: false, cancellationToken);
            }
            return (IReadOnlyList<Migration>)targets;
        }, cancellationToken);

    /// <summary>
    /// Takes the advisory lock, then reads what is applied (another instance may have just migrated) and refuses on
    /// tampered checksums before <paramref name="change"/> runs.
    /// </summary>
    private async Task<T> UnderLockAsync<T>(Func<NpgsqlConnection, MigrationStatus, Task<T>> change, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await LockAsync(connection, cancellationToken);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(CreateTableSql, cancellationToken: cancellationToken));
            var status = await ReadStatusAsync(connection, cancellationToken);
            ThrowIfTampered(status);
            return await change(connection, status);
        }
        finally
        {
            await UnlockAsync(connection);
        }
    }

    private async Task RunAsync(NpgsqlConnection connection, Migration migration, string sql, bool up, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Migrations may legitimately run longer than an API command; the deploy's own deadline bounds them.
        await connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, commandTimeout: 0, cancellationToken: cancellationToken));
        if (up)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (@Version, @Name, @Checksum, @Ms)",
                new { migration.Version, migration.Name, migration.Checksum, Ms = (int)watch.ElapsedMilliseconds },
                transaction, cancellationToken: cancellationToken));
        }
        else
        {
            await connection.ExecuteAsync(new CommandDefinition("DELETE FROM schema_migrations WHERE version = @Version",
                new { migration.Version }, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Migration {Migration} {Direction} in {ElapsedMs} ms", migration.Label, up ? "applied" : "reverted", watch.ElapsedMilliseconds);
    }

    private async Task<MigrationStatus> ReadStatusAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var exists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT to_regclass('schema_migrations') IS NOT NULL", cancellationToken: cancellationToken));
        var applied = exists
            ? (await connection.QueryAsync<AppliedRow>(new CommandDefinition(
                "SELECT version, name, checksum, applied_at AS AppliedAt, execution_ms AS ExecutionMs FROM schema_migrations ORDER BY version",
                cancellationToken: cancellationToken)))
                .Select(r => new AppliedMigration(r.Version, r.Name, r.Checksum, r.AppliedAt, r.ExecutionMs)).ToList()
            : [];
        var byVersion = applied.ToDictionary(a => a.Version);
        var known = catalog.Migrations.Select(m => new MigrationState(m, byVersion.GetValueOrDefault(m.Version))).ToList();
        var knownVersions = catalog.Migrations.Select(m => m.Version).ToHashSet();
        return new MigrationStatus(known, applied.Where(a => !knownVersions.Contains(a.Version)).ToList());
    }

    private static void ThrowIfTampered(MigrationStatus status)
    {
        if (status.Mismatched.Count > 0)
        {
            throw new MigrationException(
                $"applied migration {string.Join(", ", status.Mismatched.Select(s => s.Migration.Label))} no longer matches its file (checksum differs); " +
                "restore the original file and put the change in a new migration.");
        }
    }

    private static async Task LockAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@AdvisoryLockKey)", new { AdvisoryLockKey },
            commandTimeout: 0, cancellationToken: cancellationToken));

    private static async Task UnlockAsync(NpgsqlConnection connection)
    {
        if (connection.State == System.Data.ConnectionState.Open)
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@AdvisoryLockKey)", new { AdvisoryLockKey });
        }
    }

    private sealed record AppliedRow(long Version, string Name, string Checksum, DateTime AppliedAt, int ExecutionMs);
}
