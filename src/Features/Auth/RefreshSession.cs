using System.ComponentModel.DataAnnotations;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Security;

namespace Service.Features.Auth;

public sealed record RefreshSessionRequest([property: Required, StringLength(200)] string RefreshToken);

/// <summary>
/// Rotates a refresh token: the presented one is consumed, a new one of the same family is issued. Presenting an
/// already-consumed token means it was copied: the whole family is revoked (both holders must sign in again).
/// The row lock makes two concurrent uses of one token resolve to exactly one success.
/// </summary>
public static class RefreshSession
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/refresh", Handle)
            .WithName("RefreshSession")
            .WithSummary("Exchange a refresh token for new tokens")
            .AllowAnonymous()
            .RequireRateLimit(RateLimitPolicies.Auth)
            .ProducesProblem(StatusCodes.Status401Unauthorized);

    public static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> Handle(
        RefreshSessionRequest request, NpgsqlDataSource dataSource, TokenIssuer tokens, AuditLog audit, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var token = await connection.QuerySingleOrDefaultAsync<RefreshRow>(new CommandDefinition("""
            SELECT t.id, t.family_id AS FamilyId, t.user_id AS UserId, t.expires_at AS ExpiresAt,
                   t.consumed_at AS ConsumedAt, t.revoked_at AS RevokedAt, u.email
            FROM refresh_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = @hash
            FOR UPDATE OF t
            """, new { hash = TokenIssuer.HashRefreshToken(request.RefreshToken) }, transaction, cancellationToken: cancellationToken));

        if (token is null || token.RevokedAt is not null) return Rejected();
        if (token.ConsumedAt is not null)
        {
            var revoked = await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = @FamilyId AND revoked_at IS NULL",
                new { token.FamilyId }, transaction, cancellationToken: cancellationToken));
            await audit.WriteAsync(connection, transaction, new AuditEntry("user", token.UserId.ToString(), null, "auth.refresh_reuse_detected",
                "refresh_token_family", token.FamilyId.ToString(), new { revokedTokens = revoked }), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return Rejected();
        }
        if (DateTime.SpecifyKind(token.ExpiresAt, DateTimeKind.Utc) <= time.GetUtcNow().UtcDateTime) return Rejected();

        await connection.ExecuteAsync(new CommandDefinition("UPDATE refresh_tokens SET consumed_at = now() WHERE id = @Id",
            new { token.Id }, transaction, cancellationToken: cancellationToken));
        var issued = await tokens.IssueAsync(connection, transaction, token.UserId, token.Email, token.FamilyId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new TokenResponse(issued.AccessToken, issued.RefreshToken, issued.ExpiresIn));
    }

    private static ProblemHttpResult Rejected() => TypedResults.Problem(
        statusCode: StatusCodes.Status401Unauthorized,
        title: "Session expired",
        detail: "The refresh token is unknown, expired or revoked; sign in again.");

    private sealed record RefreshRow(Guid Id, Guid FamilyId, Guid UserId, DateTime ExpiresAt, DateTime? ConsumedAt, DateTime? RevokedAt, string Email);
}
