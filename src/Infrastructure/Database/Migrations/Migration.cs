using System.Security.Cryptography;
using System.Text;

namespace Service.Infrastructure.Database.Migrations;

/// <summary>One versioned schema change: NNNN_name.sql, and optionally NNNN_name.down.sql to undo it.</summary>
public sealed record Migration(long Version, string Name, string UpSql, string? DownSql)
{
    /// <summary>sha256 of the up script, line endings normalized so a checkout on another OS does not look tampered.</summary>
    public string Checksum { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(UpSql.ReplaceLineEndings("\n"))));

    public string Label => $"{Version:D4}_{Name}";
}

public sealed record AppliedMigration(long Version, string Name, string Checksum, DateTimeOffset AppliedAt, int ExecutionMs)
{
    public string Label => $"{Version:D4}_{Name}";
}

public sealed record MigrationState(Migration Migration, AppliedMigration? Applied)
{
    public bool IsApplied => Applied is not null;
    public bool ChecksumMismatch => Applied is not null && Applied.Checksum != Migration.Checksum;
}

public sealed record MigrationStatus(IReadOnlyList<MigrationState> Known, IReadOnlyList<AppliedMigration> UnknownApplied)
{
    public IReadOnlyList<Migration> Pending => Known.Where(s => !s.IsApplied).Select(s => s.Migration).ToList();
    public IReadOnlyList<MigrationState> Mismatched => Known.Where(s => s.ChecksumMismatch).ToList();
    public bool UpToDate => Pending.Count == 0 && Mismatched.Count == 0;
}

/// <summary>An expected refusal of the runner (tampered checksum, missing down script...), with a message for operators.</summary>
public sealed class MigrationException(string message) : Exception(message);
