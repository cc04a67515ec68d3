using Service.Infrastructure.Observability;
using System.Text.Json;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Database;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>A flag's row in feature_flags: its value set by an operator, and who set it, when and why.</summary>
public sealed record StoredFeatureFlag(string Name, bool Enabled, FeatureTargeting? Targeting, string UpdatedBy, DateTimeOffset UpdatedAt, string Reason);

public sealed record FeatureFlagChange(FeatureFlag Flag, bool Enabled, FeatureTargeting? Targeting, string Reason)
{
    public const int MaxReasonLength = 500;

    /// <summary>The rules every way of changing a flag obeys (admin API, CLI); problems keyed by field, empty when valid.</summary>
    public static Dictionary<string, string[]> Validate(FeatureFlag flag, string? reason, FeatureTargeting? targeting)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(reason)) errors["reason"] = ["Say why the flag changes: the audit log and the next operator need it."];
        else if (reason.Trim().Length > MaxReasonLength) errors["reason"] = [$"At most {MaxReasonLength} characters."];
        if (targeting is not null)
        {
            if (flag.Kind != FeatureKind.Release) errors["targeting"] = [$"{flag.Name} is a kill switch: it is on or off for everyone. Targeting applies to release flags."];
            else foreach (var (field, messages) in targeting.Validate("targeting")) errors[field] = messages;
        }
        return errors;
    }
}

/// <summary>Who changes a flag: the audit log's actor, and the name shown as the flag's updated_by.</summary>
public sealed record FeatureFlagActor(string AuditType, string? AuditId, string DisplayName);

/// <summary>
/// The flags table, shared by every instance, the admin API and the CLI. Reads are for the background snapshot
/// reload and the CLI only: request handling evaluates flags from <see cref="FeatureFlagSnapshot"/>.
/// </summary>
public sealed class FeatureFlagStore(NpgsqlDataSource dataSource, AuditLog audit)
{
    public const string ChangedAction = "feature_flag.changed";

    private const string Columns = "name, enabled, targeting::text AS Targeting, updated_by AS UpdatedBy, updated_at AS UpdatedAt, reason";

    public async Task<IReadOnlyList<StoredFeatureFlag>> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM feature_flags",
            cancellationToken: cancellationToken));
        return rows.Select(r => r.ToStored()).ToList();
    }

    /// <summary>Writes the new value and its audit record in one transaction; returns the row as it was before (null: never set).</summary>
    public async Task<(StoredFeatureFlag? Previous, StoredFeatureFlag Current)> SetAsync(FeatureFlagChange change, FeatureFlagActor actor, CancellationToken cancellationToken)
    {
        using var span = ServiceDiagnostics.StartFlagChange(change.Flag.Name, change.Enabled, actor.DisplayName);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Serializes changes of one flag, so each audit record's old value is the one it really replaced,
        // including the first change of a flag that has no row yet (nothing for FOR UPDATE to lock).
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(hashtextextended('feature_flags:' || @Name, 0))",
            new { change.Flag.Name }, transaction, cancellationToken: cancellationToken));
        var previous = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM feature_flags WHERE name = @Name",
            new { change.Flag.Name }, transaction, cancellationToken: cancellationToken));
        var current = await connection.QuerySingleAsync<Row>(new CommandDefinition($"""
            INSERT INTO feature_flags (name, enabled, targeting, updated_by, updated_at, reason)
            VALUES (@Name, @Enabled, @Targeting::jsonb, @UpdatedBy, now(), @Reason)
            ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, targeting = excluded.targeting,
                updated_by = excluded.updated_by, updated_at = excluded.updated_at, reason = excluded.reason
            RETURNING {Columns}
            """,
            new
            {
                change.Flag.Name,
                change.Enabled,
                Targeting = change.Targeting is null ? null : JsonSerializer.Serialize(change.Targeting, JsonSerializerOptions.Web),
                UpdatedBy = actor.DisplayName,
                Reason = change.Reason.Trim(),
            },
            transaction, cancellationToken: cancellationToken));

        var old = previous?.ToStored();
        var stored = current.ToStored();
        await audit.WriteAsync(connection, transaction, new AuditEntry(actor.AuditType, actor.AuditId, null, ChangedAction, "feature_flag", change.Flag.Name, new
        {
            by = actor.DisplayName,
            reason = stored.Reason,
            old = new { enabled = old?.Enabled ?? change.Flag.SafeDefault, targeting = old?.Targeting, source = old is null ? FeatureFlagSources.Default : FeatureFlagSources.Database },
            @new = new { enabled = stored.Enabled, targeting = stored.Targeting },
        }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (old, stored);
    }

    private sealed record Row(string Name, bool Enabled, string? Targeting, string UpdatedBy, DateTime UpdatedAt, string Reason)
    {
        public StoredFeatureFlag ToStored() => new(Name, Enabled,
            Targeting is null ? null : JsonSerializer.Deserialize<FeatureTargeting>(Targeting, JsonSerializerOptions.Web),
            UpdatedBy, UpdatedAt.AsUtc(), Reason);
    }
}
