using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Security;

namespace Service.Features.Auth;

public sealed record LogoutUserRequest([property: Required, StringLength(200)] string RefreshToken);

/// <summary>Revokes the refresh token's whole family (this sign-in on this device). Idempotent.</summary>
public static class LogoutUser
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/logout", Handle)
            .WithName("LogoutUser")
            .WithSummary("Sign out: revoke the refresh token")
            .RequireAuthorization(AuthPolicies.User);

    public static async Task<NoContent> Handle(LogoutUserRequest request, ClaimsPrincipal user, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Only the caller's own tokens: someone else's token is left alone, and the answer does not say whether it existed.
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE refresh_tokens SET revoked_at = now()
            WHERE revoked_at IS NULL AND family_id = (
                SELECT family_id FROM refresh_tokens WHERE token_hash = @hash AND user_id = @userId)
            """, new { hash = TokenIssuer.HashRefreshToken(request.RefreshToken), userId = user.RequiredUserId() }, cancellationToken: cancellationToken));
        return TypedResults.NoContent();
    }
}
