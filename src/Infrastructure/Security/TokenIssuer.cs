using System.Data.Common;
using System.Security.Claims;
using System.Security.Cryptography;
using Dapper;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Service.Infrastructure.Security;

public sealed record IssuedTokens(string AccessToken, string RefreshToken, int ExpiresIn);

/// <summary>
/// Access tokens (JWT, HS256, short-lived) and refresh tokens (256 random bits, stored only as SHA-256, rotated on
/// every use within a family). Shared by login and refresh.
/// </summary>
public sealed class TokenIssuer(SigningKey signingKey, IOptions<AuthOptions> options, TimeProvider time)
{
    public async Task<IssuedTokens> IssueAsync(DbConnection connection, DbTransaction transaction, Guid userId, string email, Guid familyId, CancellationToken cancellationToken)
    {
        var auth = options.Value;
        var now = time.GetUtcNow();
        var lifetime = TimeSpan.FromMinutes(auth.AccessTokenMinutes);
        var accessToken = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = auth.Issuer,
            Audience = auth.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + lifetime).UtcDateTime,
            Subject = new ClaimsIdentity(
            [
                new Claim(PrincipalClaims.Subject, userId.ToString()),
                new Claim(PrincipalClaims.Email, email),
                new Claim(JwtRegisteredClaimNames.Jti, Guid.NewGuid().ToString("N")),
            ]),
            SigningCredentials = new SigningCredentials(signingKey.Key, SecurityAlgorithms.HmacSha256),
        });

        var refreshToken = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
            VALUES (@Id, @FamilyId, @UserId, @Hash, @ExpiresAt)
            """,
            new { Id = Guid.CreateVersion7(), FamilyId = familyId, UserId = userId, Hash = HashRefreshToken(refreshToken), ExpiresAt = now.AddDays(auth.RefreshTokenDays) },
            transaction, cancellationToken: cancellationToken));

        return new IssuedTokens(accessToken, refreshToken, (int)lifetime.TotalSeconds);
    }

    public static byte[] HashRefreshToken(string token) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token));
}
