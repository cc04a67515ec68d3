using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Streaming;
using Service.Infrastructure.Security;

namespace Service.Features.ApiKeys;

/// <summary>Revoking is immediate and idempotent; the key stays listed with its revocation time.</summary>
public static class RevokeApiKey
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/{keyId:guid}", Handle)
            .WithName("RevokeApiKey")
            .WithSummary("Revoke an API key")
            .ProducesProblem(StatusCodes.Status404NotFound);

    public static async Task<Results<NoContent, ProblemHttpResult>> Handle(
        Guid orgId, Guid keyId, ClaimsPrincipal user, NpgsqlDataSource dataSource, AuditLog audit, Notifier notifier, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var key = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
            "SELECT name, prefix, revoked_at IS NOT NULL AS Revoked FROM api_keys WHERE id = @keyId AND org_id = @orgId FOR UPDATE",
            new { keyId, orgId }, transaction, cancellationToken: cancellationToken));
        if (key is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such key");
        IReadOnlyList<StreamEvent> notice = [];
        if (!key.Revoked)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE api_keys SET revoked_at = now(), updated_at = now(), previous_secret_hash = NULL, previous_valid_until = NULL WHERE id = @keyId",
                new { keyId }, transaction, cancellationToken: cancellationToken));
            await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "api_key.revoked", "api_key", keyId.ToString()), cancellationToken);
            notice = await notifier.NotifyOrgAdminsAsync(connection, transaction, orgId, user.RequiredUserId(),
                ApiKeyNotices.Changed("revoked", keyId, key.Name, key.Prefix, user, await Notices.OrgNameAsync(connection, transaction, orgId, cancellationToken)), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        await notifier.PublishAsync(notice);
        return TypedResults.NoContent();
    }

    private sealed record KeyRow(string Name, string Prefix, bool Revoked);
}
