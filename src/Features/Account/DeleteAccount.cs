using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Security;

namespace Service.Features.Account;

public sealed record DeleteAccountRequest(string? Password);

/// <summary>
/// Deletes the caller's account after the password is typed again (a wrong one counts like a failed sign-in).
/// Refused while the caller is the last owner of an organization. Each organization is handled in its own
/// transaction (its row locked, the owner count checked again): membership removed, the caller's events deleted or
/// anonymized as its policy says. Then, in one last transaction, sessions and notifications go and the user row is
/// tombstoned (nothing personal left; the email can register again). Stopped halfway, a retry finishes the job:
/// every step only acts on what is still there.
/// </summary>
public static class DeleteAccount
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/", Handle)
            .WithName("DeleteAccount")
            .WithSummary("Delete your account (password required)")
            .RequireRateLimit(RateLimitPolicies.Auth)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict);

    public static async Task<Results<NoContent, ProblemHttpResult>> Handle([FromBody] DeleteAccountRequest? request, ClaimsPrincipal principal, NpgsqlDataSource dataSource,
        Passwords passwords, AuditLog audit, IOptions<AuthOptions> auth, TimeProvider time, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request?.Password))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Password required",
                detail: "Type your password again to delete your account: send {\"password\": \"...\"}.");
        }
        var userId = principal.RequiredUserId();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var user = await connection.QuerySingleOrDefaultAsync<(string PasswordHash, DateTime? LockedUntil)?>(new CommandDefinition(
            "SELECT password_hash, locked_until FROM users WHERE id = @userId AND deleted_at IS NULL", new { userId }, cancellationToken: cancellationToken));
        if (user is not { } account) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: "This account no longer exists.");
        var passwordMatches = passwords.Verify(account.PasswordHash, request.Password);
        if (LoginFailures.IsLocked(account.LockedUntil, time.GetUtcNow())) return WrongPassword();
        if (!passwordMatches)
        {
            await using var failed = await connection.BeginTransactionAsync(cancellationToken);
            await LoginFailures.RecordAsync(connection, failed, userId, auth.Value.Lockout, audit, cancellationToken);
            await failed.CommitAsync(cancellationToken);
            return WrongPassword();
        }

        var lastOwned = await Departure.LastOwnedAsync(connection, null, userId, null, cancellationToken);
        if (lastOwned.Count > 0) return LastOwner(lastOwned);

        // Every organization holding the caller's membership or events, the soft-deleted ones included.
        var orgIds = (await connection.QueryAsync<Guid>(new CommandDefinition("""
            SELECT o.id FROM organizations o
            WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = o.id AND m.user_id = @userId)
               OR EXISTS (SELECT 1 FROM events e WHERE e.org_id = o.id AND e.source_id = @userId AND e.source_type = 'user')
            ORDER BY o.id
            """, new { userId }, cancellationToken: cancellationToken))).AsList();
        var summary = new List<object>();
        foreach (var orgId in orgIds)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await Ownership.LockAndCountOwnersAsync(connection, transaction, orgId, cancellationToken);
            // An owner demoted or removed since the check above leaves the caller the last one: stop before this organization.
            var raced = await Departure.LastOwnedAsync(connection, transaction, userId, orgId, cancellationToken);
            if (raced.Count > 0) return LastOwner(raced);
            summary.Add(await Departure.LeaveAsync(connection, transaction, audit, userId, orgId, cancellationToken));
            await transaction.CommitAsync(cancellationToken);
        }

        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            // The row first: it waits for a member being added at this moment (AddMember reads the user FOR SHARE), whose
            // membership the next statement then sees and removes; after the commit nobody finds the account to add.
            await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE users SET email = '', email_normalized = 'deleted:' || id::text, display_name = '', password_hash = '',
                    failed_login_count = 0, locked_until = NULL, deleted_at = now(), updated_at = now()
                WHERE id = @userId;
                DELETE FROM refresh_tokens WHERE user_id = @userId;
                DELETE FROM stream_tickets WHERE user_id = @userId;
                DELETE FROM notifications WHERE user_id = @userId;
                DELETE FROM stream_events WHERE user_id = @userId;
                DELETE FROM stream_heads WHERE user_id = @userId;
                """, new { userId }, transaction, cancellationToken: cancellationToken));
            var late = await connection.QueryAsync<Guid>(new CommandDefinition(
                "DELETE FROM memberships WHERE user_id = @userId RETURNING org_id", new { userId }, transaction, cancellationToken: cancellationToken));
            summary.AddRange(late.Select(orgId => new { orgId, events = 0, handling = "membership added during the deletion, removed" }));
            await audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), null, "account.deleted", "user", userId.ToString(),
                new { organizations = summary }), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult WrongPassword() => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Password does not match",
        detail: "The password is wrong, or the account is temporarily locked after repeated failures.");

    private static ProblemHttpResult LastOwner(List<(Guid Id, string Name)> organizations) => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict, title: "Last owner",
        detail: $"You are the last owner of {string.Join(", ", organizations.Select(o => $"\"{o.Name}\""))}: make someone else owner, or delete the organization, first.",
        extensions: new Dictionary<string, object?> { ["organizations"] = organizations.Select(o => new { id = o.Id, name = o.Name }).ToList() });
}
