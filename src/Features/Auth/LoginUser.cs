using System.ComponentModel.DataAnnotations;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Security;

namespace Service.Features.Auth;

public sealed record LoginUserRequest(
    [property: Required, StringLength(254)] string Email,
    [property: Required, StringLength(128)] string Password);

public sealed record TokenResponse(string AccessToken, string RefreshToken, int ExpiresIn, string TokenType = "Bearer");

/// <summary>
/// Unknown email, wrong password and locked account all answer the same 401 after the same work (one password
/// hash verification), so the answer reveals nothing about which accounts exist. Failures past
/// Auth:Lockout:MaxFailedAttempts lock the account for a delay that doubles with each further failure.
/// </summary>
public static class LoginUser
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/login", Handle)
            .WithName("LoginUser")
            .WithSummary("Sign in with email and password")
            .AllowAnonymous()
            .RequireRateLimit(RateLimitPolicies.Auth)
            .ProducesProblem(StatusCodes.Status401Unauthorized);

    public static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> Handle(
        LoginUserRequest request, NpgsqlDataSource dataSource, Passwords passwords, TokenIssuer tokens, AuditLog audit,
        IOptions<AuthOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var user = await connection.QuerySingleOrDefaultAsync<LoginRow>(new CommandDefinition(
            "SELECT id, email, password_hash AS PasswordHash, locked_until AS LockedUntil FROM users WHERE email_normalized = @email AND deleted_at IS NULL",
            new { email = EmailAddresses.Normalize(request.Email) }, cancellationToken: cancellationToken));

        var passwordMatches = passwords.Verify(user?.PasswordHash, request.Password);
        if (user is null) return Rejected();
        if (LoginFailures.IsLocked(user.LockedUntil, time.GetUtcNow())) return Rejected();

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!passwordMatches)
        {
            await LoginFailures.RecordAsync(connection, transaction, user.Id, options.Value.Lockout, audit, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return Rejected();
        }

        await LoginFailures.ResetAsync(connection, transaction, user.Id, cancellationToken);
        var issued = await tokens.IssueAsync(connection, transaction, user.Id, user.Email, familyId: Guid.CreateVersion7(), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new TokenResponse(issued.AccessToken, issued.RefreshToken, issued.ExpiresIn));
    }

    private static ProblemHttpResult Rejected() => TypedResults.Problem(
        statusCode: StatusCodes.Status401Unauthorized,
        title: "Sign-in failed",
        detail: "The email or password is wrong, or the account is temporarily locked after repeated failures.");

    private sealed record LoginRow(Guid Id, string Email, string PasswordHash, DateTime? LockedUntil);
}
