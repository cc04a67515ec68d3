using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
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
        Guid orgId, Guid keyId, ClaimsPrincipal user, NpgsqlDataSource dataSource, AuditLog audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var state = await connection.QuerySingleOrDefaultAsync<bool?>(new CommandDefinition(
            "SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = @keyId AND org_id = @orgId FOR UPDATE",
            new { keyId, orgId }, transaction, cancellationToken: cancellationToken));
        if (state is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such key");
        if (state == false)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE api_keys SET revoked_at = now(), updated_at = now(), previous_secret_hash = NULL, previous_valid_until = NULL WHERE id = @keyId",
                new { keyId }, transaction, cancellationToken: cancellationToken));
            await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "api_key.revoked", "api_key", keyId.ToString()), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
