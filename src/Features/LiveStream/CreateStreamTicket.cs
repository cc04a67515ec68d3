using System.Security.Claims;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Security;
using Service.Infrastructure.Streaming;

namespace Service.Features.LiveStream;

public sealed record StreamTicketResponse(string Ticket, DateTimeOffset ExpiresAt, string StreamUrl);

/// <summary>
/// A one-time ticket for a browser's EventSource, which cannot send an Authorization header: valid for
/// Stream:TicketSeconds, opens one stream, on any instance. The stream it opens ends when the caller's access token does.
/// </summary>
public static class CreateStreamTicket
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/tickets", Handle)
            .WithName("CreateStreamTicket")
            .WithSummary("Get a one-time ticket to open the stream from a browser");

    public static async Task<Ok<StreamTicketResponse>> Handle(
        ClaimsPrincipal user, HttpResponse response, NpgsqlDataSource dataSource, IOptions<StreamOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var expiresAt = now.AddSeconds(options.Value.TicketSeconds);
        var ticket = StreamTicketAuthenticationHandler.NewTicket();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO stream_tickets (ticket_hash, user_id, token_expires_at, expires_at) VALUES (@hash, @userId, @tokenExpiresAt, @expiresAt)
            """, new { hash = StreamTicketAuthenticationHandler.Hash(ticket), userId = user.RequiredUserId(), tokenExpiresAt = user.ExpiresAt() ?? expiresAt, expiresAt },
            cancellationToken: cancellationToken));
        response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new StreamTicketResponse(ticket, expiresAt, $"{StreamTicketAuthenticationHandler.StreamPath}?{StreamTicketAuthenticationHandler.QueryName}={ticket}"));
    }
}
