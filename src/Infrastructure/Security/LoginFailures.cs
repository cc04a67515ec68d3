using System.Data.Common;
using Dapper;
using Service.Infrastructure.Audit;

namespace Service.Infrastructure.Security;

/// <summary>
/// A wrong password, wherever it is typed (sign-in, account deletion), counts toward the same lockout: past
/// Auth:Lockout:MaxFailedAttempts the account is locked for a delay that doubles with each further failure.
/// </summary>
public static class LoginFailures
{
    public static async Task RecordAsync(DbConnection connection, DbTransaction transaction, Guid userId, AuthOptions.LockoutOptions lockout, AuditLog audit,
        CancellationToken cancellationToken)
    {
        var failure = await connection.QuerySingleAsync<FailureRow>(new CommandDefinition("""
            UPDATE users SET
                failed_login_count = failed_login_count + 1,
                locked_until = CASE WHEN failed_login_count + 1 >= @Max
                    THEN now() + make_interval(secs => LEAST(@Base * power(2, failed_login_count + 1 - @Max), @Cap))
                    ELSE locked_until END,
                updated_at = now()
            WHERE id = @userId
            RETURNING failed_login_count AS FailedCount, locked_until AS LockedUntil
            """, new { userId, Max = lockout.MaxFailedAttempts, Base = lockout.BaseSeconds, Cap = lockout.MaxSeconds },
            transaction, cancellationToken: cancellationToken));
        if (failure.FailedCount >= lockout.MaxFailedAttempts)
        {
            await audit.WriteAsync(connection, transaction, new AuditEntry("system", null, null, "auth.account_locked", "user", userId.ToString(),
                new { failedAttempts = failure.FailedCount, lockedUntil = failure.LockedUntil }), cancellationToken);
        }
    }

    /// <summary>Whether the account is locked now.</summary>
    public static bool IsLocked(DateTime? lockedUntil, DateTimeOffset now) =>
        lockedUntil is { } until && DateTime.SpecifyKind(until, DateTimeKind.Utc) > now.UtcDateTime;

    /// <summary>Unlocks and resets the count after a right password.</summary>
    public static Task ResetAsync(DbConnection connection, DbTransaction transaction, Guid userId, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "UPDATE users SET failed_login_count = 0, locked_until = NULL WHERE id = @userId AND (failed_login_count <> 0 OR locked_until IS NOT NULL)",
            new { userId }, transaction, cancellationToken: cancellationToken));

    private sealed record FailureRow(int FailedCount, DateTime? LockedUntil);
}
