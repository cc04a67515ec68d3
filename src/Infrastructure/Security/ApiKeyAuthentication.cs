using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Dapper;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Database;

namespace Service.Infrastructure.Security;

/// <summary>
/// Agents authenticate with "Authorization: ApiKey {key}" or "X-Api-Key: {key}". One indexed lookup by prefix,
/// a constant-time hash comparison; revocation and rotation take effect on the next request, on every instance.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    NpgsqlDataSource dataSource,
    TimeProvider time) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    // last_used_at is written at most once a minute per key and instance, to keep writes off the ingest path.
    private static readonly ConcurrentDictionary<Guid, DateTimeOffset> LastUsedWrites = new();

    public static string? ReadKey(HttpRequest request)
    {
        if (request.Headers.TryGetValue(HeaderName, out var header) && header.Count == 1) return header[0];
        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith(SchemeName + " ", StringComparison.OrdinalIgnoreCase) ? authorization[(SchemeName.Length + 1)..].Trim() : null;
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = ReadKey(Request);
        if (key is null) return AuthenticateResult.NoResult();
        if (!ApiKeyFormat.TryParse(key, out var prefix, out var secret)) return AuthenticateResult.Fail("malformed API key");

        var row = await FindAsync(prefix);
        var now = time.GetUtcNow();
        var valid = row is not null && (ApiKeyFormat.Matches(secret, row.SecretHash)
            || (row.PreviousValidUntilUtc > now && ApiKeyFormat.Matches(secret, row.PreviousSecretHash)));
        if (!valid) return AuthenticateResult.Fail("unknown, revoked or wrong API key");

        await TouchAsync(row!.Id, now);
        var claims = new List<Claim>
        {
            new(PrincipalClaims.ApiKeyId, row.Id.ToString()),
            new(PrincipalClaims.ApiKeyOrgId, row.OrgId.ToString()),
        };
        claims.AddRange(row.Permissions.Select(p => new Claim(PrincipalClaims.Permission, p)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    private async Task<KeyRow?> FindAsync(string prefix)
    {
        await using var connection = await dataSource.OpenConnectionAsync(Context.RequestAborted);
        return await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition("""
            SELECT k.id, k.org_id AS OrgId, k.secret_hash AS SecretHash, k.previous_secret_hash AS PreviousSecretHash,
                   k.previous_valid_until AS PreviousValidUntil, k.permissions
            FROM api_keys k JOIN organizations o ON o.id = k.org_id
            WHERE k.prefix = @prefix AND k.revoked_at IS NULL AND o.deleted_at IS NULL
            """, new { prefix }, cancellationToken: Context.RequestAborted));
    }

    private async Task TouchAsync(Guid id, DateTimeOffset now)
    {
        if (LastUsedWrites.TryGetValue(id, out var last) && now - last < TimeSpan.FromMinutes(1)) return;
        LastUsedWrites[id] = now;
        await using var connection = await dataSource.OpenConnectionAsync(Context.RequestAborted);
        await connection.ExecuteAsync(new CommandDefinition("UPDATE api_keys SET last_used_at = now() WHERE id = @id",
            new { id }, cancellationToken: Context.RequestAborted));
    }

    // A class, not a positional record: Dapper cannot map text[] (reported as System.Array) onto a constructor.
    private sealed class KeyRow
    {
        public Guid Id { get; init; }
        public Guid OrgId { get; init; }
        public byte[] SecretHash { get; init; } = [];
        public byte[]? PreviousSecretHash { get; init; }
        public DateTime? PreviousValidUntil { get; init; }
        public string[] Permissions { get; init; } = [];

        public DateTimeOffset? PreviousValidUntilUtc => PreviousValidUntil.AsUtc();
    }
}
