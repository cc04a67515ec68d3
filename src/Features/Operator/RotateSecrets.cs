using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Database;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Privacy;
using Service.Infrastructure.Secrets;
using Service.Infrastructure.Settings;

namespace Service.Features.Operator;

/// <summary>
/// `secrets rotate`: re-encrypts every stored secret (integration secrets, privacy path keys) still under an old key (ENCRYPTION_KEYS_OLD) with ENCRYPTION_KEY.
/// Batches of 100 rows, each its own transaction (rows locked with SKIP LOCKED, so it runs beside the service and
/// beside another copy of itself): interrupted, it resumes where it stopped; run again, it finds nothing to do.
/// Exit code 0 when everything is under the current key, 1 when some row could not be decrypted or the database
/// failed, 2 for a usage or settings error.
/// </summary>
public static class RotateSecrets
{
    public const string Usage = """
        usage:
          secrets rotate     re-encrypt every stored secret under ENCRYPTION_KEY (old keys from ENCRYPTION_KEYS_OLD)
          secrets status     count stored secrets per key id, marking the current one
        """;

    private const int BatchSize = 100;

    public static bool Matches(string[] args) => args.Length > 0 && args[0] == "secrets";

    public static async Task<int> RunAsync(string[] args, IConfiguration configuration, IHostEnvironment environment, TextWriter output, TextWriter error,
        CancellationToken cancellationToken)
    {
        if (args is not ["secrets", "rotate" or "status"])
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }
        var database = configuration.ReadValidated(DatabaseOptions.Section, new DatabaseOptionsValidator(), out var databaseProblems);
        var encryption = configuration.ReadValidated(EncryptionOptions.Section, new EncryptionOptionsValidator(environment, configuration), out var keyProblems);
        if (databaseProblems.Count + keyProblems.Count > 0)
        {
            foreach (var problem in databaseProblems.Concat(keyProblems)) await error.WriteLineAsync(problem);
            return 2;
        }

        var box = new SecretBox(encryption.Key!, encryption.OldKeyList);
        await using var dataSource = NpgsqlDataSource.Create(database.ToConnectionString());
        try
        {
            return args[1] == "status" ? await StatusAsync(dataSource, box, output, cancellationToken) : await RotateAsync(dataSource, box, output, error, cancellationToken);
        }
        catch (NpgsqlException e)
        {
            await error.WriteLineAsync($"secrets: database error: {(e is PostgresException pg ? $"{pg.SqlState} {pg.MessageText}" : e.Message)}");
            return 1;
        }
    }

    /// <summary>A table holding sealed values: where they are, which key sealed each, and the context each was sealed for.</summary>
    private sealed record SealedColumn(string Label, string Table, string Id, string Value, string KeyId, string Live, Func<Guid, string> Context);

    private static readonly SealedColumn[] Columns =
    [
        new("integrations", "integrations", "id", "secrets", "secret_key_id", "deleted_at IS NULL", IntegrationSecrets.Context),
        new("privacy path keys", "privacy_policies", "org_id", "path_key", "path_key_id", "true", PrivacyPolicies.KeyContext),
    ];

    private static async Task<int> StatusAsync(NpgsqlDataSource dataSource, SecretBox box, TextWriter output, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await output.WriteLineAsync($"current key: {box.CurrentKeyId}");
        foreach (var column in Columns)
        {
            var counts = await connection.QueryAsync<(string KeyId, long Rows)>(new CommandDefinition(
                $"SELECT {column.KeyId}, count(*) FROM {column.Table} WHERE {column.Live} GROUP BY 1 ORDER BY 1", cancellationToken: cancellationToken));
            foreach (var (keyId, rows) in counts) await output.WriteLineAsync($"{keyId,-16} {rows,8} {column.Label}{(keyId == box.CurrentKeyId ? "  (current)" : "")}");
        }
        return 0;
    }

    private static async Task<int> RotateAsync(NpgsqlDataSource dataSource, SecretBox box, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var audit = new AuditLog(new HttpContextAccessor());
        var rotated = new Dictionary<string, long>();
        var unreadable = 0;
        foreach (var column in Columns)
        {
            var (count, failed) = await RotateAsync(dataSource, box, column, error, cancellationToken);
            rotated[column.Table] = count;
            unreadable += failed;
        }
        if (rotated.Values.Sum() > 0)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await audit.WriteAsync(connection, null, new AuditEntry("operator", $"{Environment.UserName}@{Environment.MachineName}", null, "secrets.rotated", "encryption_key",
                box.CurrentKeyId, new { integrations = rotated["integrations"], privacyPolicies = rotated["privacy_policies"], unreadable }), cancellationToken);
        }
        await output.WriteLineAsync($"Re-encrypted {rotated["integrations"]} integrations and {rotated["privacy_policies"]} privacy path keys under key {box.CurrentKeyId}; " +
            $"{unreadable} could not be decrypted.");
        return unreadable == 0 ? 0 : 1;
    }

    private static async Task<(long Rotated, int Unreadable)> RotateAsync(NpgsqlDataSource dataSource, SecretBox box, SealedColumn column, TextWriter error,
        CancellationToken cancellationToken)
    {
        long rotated = 0;
        var unreadable = new List<Guid>();
        while (true)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var rows = (await connection.QueryAsync<(Guid Id, byte[] Sealed)>(new CommandDefinition($"""
                SELECT {column.Id}, {column.Value} FROM {column.Table}
                WHERE {column.KeyId} <> @current AND {column.Live} AND NOT ({column.Id} = ANY(@unreadable))
                ORDER BY {column.Id} LIMIT @BatchSize
                FOR UPDATE SKIP LOCKED
                """, new { current = box.CurrentKeyId, unreadable = unreadable.ToArray(), BatchSize }, transaction, cancellationToken: cancellationToken))).AsList();
            if (rows.Count == 0) break;
            foreach (var row in rows)
            {
                byte[] resealed;
                try
                {
                    resealed = box.Seal(box.Open(row.Sealed, column.Context(row.Id)), column.Context(row.Id));
                }
                catch (SecretUnavailableException e)
                {
                    unreadable.Add(row.Id);
                    await error.WriteLineAsync($"secrets: {column.Label} {row.Id} left as it is: {e.Message}");
                    continue;
                }
                // The content is unchanged, so neither version (the ETag) nor updated_at moves.
                await connection.ExecuteAsync(new CommandDefinition($"UPDATE {column.Table} SET {column.Value} = @resealed, {column.KeyId} = @current WHERE {column.Id} = @Id",
                    new { resealed, current = box.CurrentKeyId, row.Id }, transaction, cancellationToken: cancellationToken));
                rotated++;
            }
            await transaction.CommitAsync(cancellationToken);
        }
        return (rotated, unreadable.Count);
    }
}
