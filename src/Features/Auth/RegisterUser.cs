using System.ComponentModel.DataAnnotations;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Security;

namespace Service.Features.Auth;

public sealed record RegisterUserRequest(
    [property: Required, EmailAddress, StringLength(254)] string Email,
    [property: Required, StringLength(128, MinimumLength = 12)] string Password,
    [property: Required, StringLength(100, MinimumLength = 1)] string DisplayName);

public sealed record RegisteredUserResponse(Guid Id, string Email, string DisplayName, DateTimeOffset CreatedAt);

public static class RegisterUser
{
    // The most common passwords of 12+ characters; a longer breached-password list belongs in a dedicated service.
    private static readonly HashSet<string> CommonPasswords = new(StringComparer.OrdinalIgnoreCase)
    {
        "password1234", "password12345", "password123456", "passwordpassword", "123456789012", "1234567890123",
        "12345678901234", "qwerty123456", "qwertyuiop12", "qwertyqwerty", "1q2w3e4r5t6y", "1qaz2wsx3edc",
        "zaq12wsxcde3", "qazwsxedcrfv", "asdfghjkl123", "iloveyou1234", "welcome12345", "letmein12345",
        "changeme1234", "adminadmin12", "administrator", "abc123456789", "abcdefghijkl", "111111111111",
        "000000000000", "aaaaaaaaaaaa", "123123123123", "football1234", "baseball1234", "sunshine1234",
        "princess1234", "superman1234", "monkey123456", "dragon123456", "trustno1trustno1", "p@ssw0rd1234",
        "passw0rd1234", "password123!", "password!234", "correcthorsebatterystaple",
    };

    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/register", Handle)
            .WithName("RegisterUser")
            .WithSummary("Register a new user")
            .AllowAnonymous()
            .RequireRateLimit(RateLimitPolicies.Auth)
            .RequireFeature(FeatureFlagCatalog.Registration)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    public static async Task<Results<Created<RegisteredUserResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        RegisterUserRequest request, NpgsqlDataSource dataSource, Passwords passwords, AuditLog audit, CancellationToken cancellationToken)
    {
        var email = EmailAddresses.Normalize(request.Email);
        if (string.Equals(request.Password, email, StringComparison.OrdinalIgnoreCase) || string.Equals(request.Password.Trim(), request.Email.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["password"] = ["The password must not be the email address."] });
        }
        if (CommonPasswords.Contains(request.Password))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["password"] = ["This password is too common; choose another."] });
        }

        var hash = passwords.Hash(request.Password);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var user = await connection.QuerySingleOrDefaultAsync<RegisteredUserRow>(new CommandDefinition("""
            INSERT INTO users (id, email, email_normalized, display_name, password_hash)
            VALUES (@Id, @Email, @Normalized, @DisplayName, @Hash)
            ON CONFLICT (email_normalized) DO NOTHING
            RETURNING id, email, display_name AS DisplayName, created_at AS CreatedAt
            """,
            new { Id = Guid.CreateVersion7(), Email = request.Email.Trim(), Normalized = email, DisplayName = request.DisplayName.Trim(), Hash = hash },
            transaction, cancellationToken: cancellationToken));
        if (user is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Email already registered",
                detail: "An account with this email already exists; sign in instead.");
        }

        await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.Id.ToString(), null, "user.registered", "user", user.Id.ToString()), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created($"/api/v1/auth/me", new RegisteredUserResponse(user.Id, user.Email, user.DisplayName, user.CreatedAt));
    }

    private sealed record RegisteredUserRow(Guid Id, string Email, string DisplayName, DateTime CreatedAt);
}
