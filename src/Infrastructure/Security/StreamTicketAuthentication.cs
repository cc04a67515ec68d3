using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Dapper;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace Service.Infrastructure.Security;

/// <summary>Why a ticket was refused, as the 401's detail says it.</summary>
public sealed class StreamTicketRejected() : Exception("The stream ticket is unknown, expired or already used. Request a new one with POST /api/v1/stream/tickets.");

/// <summary>
/// A browser's EventSource cannot send an Authorization header, so GET /api/v1/stream also accepts
/// ?ticket=..., a one-time ticket from POST /api/v1/stream/tickets. Redeeming deletes it (any instance, once); the
/// principal carries the user and the expiry of the access token the ticket was issued under.
/// </summary>
public sealed class StreamTicketAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    NpgsqlDataSource dataSource) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "StreamTicket";
    public const string QueryName = "ticket";
    public const string StreamPath = "/api/v1/stream";
    private const string Prefix = "st_";

    public static bool Applies(HttpRequest request) =>
        request.Path.Equals(StreamPath, StringComparison.OrdinalIgnoreCase) && request.Query.ContainsKey(QueryName);

    public static string NewTicket() => Prefix + Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string ticket) => SHA256.HashData(Encoding.UTF8.GetBytes(ticket));

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var ticket = Request.Query[QueryName].ToString();
        if (!ticket.StartsWith(Prefix, StringComparison.Ordinal) || ticket.Length > 100) return AuthenticateResult.Fail(new StreamTicketRejected());

        await using var connection = await dataSource.OpenConnectionAsync(Context.RequestAborted);
        var row = await connection.QuerySingleOrDefaultAsync<TicketRow>(new CommandDefinition("""
            WITH redeemed AS (DELETE FROM stream_tickets WHERE ticket_hash = @hash RETURNING user_id, token_expires_at, expires_at)
            SELECT u.id AS UserId, u.email AS Email, r.token_expires_at AS TokenExpiresAt
            FROM redeemed r JOIN users u ON u.id = r.user_id
            WHERE r.expires_at > now()
            """, new { hash = Hash(ticket) }, cancellationToken: Context.RequestAborted));
        if (row is null) return AuthenticateResult.Fail(new StreamTicketRejected());

        var principal = new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim(PrincipalClaims.Subject, row.UserId.ToString()),
            new Claim(PrincipalClaims.Email, row.Email),
            new Claim(PrincipalClaims.Expires, new DateTimeOffset(row.TokenExpiresAt, TimeSpan.Zero).ToUnixTimeSeconds().ToString()),
        ], SchemeName, PrincipalClaims.Subject, null));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    private sealed record TicketRow(Guid UserId, string Email, DateTime TokenExpiresAt);
}
