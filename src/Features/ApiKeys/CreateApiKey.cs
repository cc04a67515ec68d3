using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Security;

namespace Service.Features.ApiKeys;

public sealed record CreateApiKeyRequest([property: Required, StringLength(100, MinimumLength = 1)] string Name);

public static class CreateApiKey
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/", Handle)
            .WithName("CreateApiKey")
            .WithSummary("Create an agent API key (its secret is shown once)");

    public static async Task<Created<IssuedApiKeyResponse>> Handle(
        Guid orgId, CreateApiKeyRequest request, ClaimsPrincipal user, NpgsqlDataSource dataSource, AuditLog audit, Notifier notifier, CancellationToken cancellationToken)
    {
        var key = ApiKeyFormat.Generate();
        var id = Guid.CreateVersion7();
        string[] permissions = [PrincipalClaims.IngestPermission];
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var createdAt = await connection.ExecuteScalarAsync<DateTime>(new CommandDefinition("""
            INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, permissions, created_by)
            VALUES (@id, @orgId, @name, @Prefix, @SecretHash, @permissions, @userId)
            RETURNING created_at
            """, new { id, orgId, name = request.Name.Trim(), key.Prefix, key.SecretHash, permissions, userId = user.RequiredUserId() },
            transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "api_key.created", "api_key", id.ToString(),
            new { name = request.Name.Trim(), prefix = key.Prefix }), cancellationToken);
        var notice = await notifier.NotifyOrgAdminsAsync(connection, transaction, orgId, user.RequiredUserId(),
            ApiKeyNotices.Changed("created", id, request.Name.Trim(), key.Prefix, user, await Notices.OrgNameAsync(connection, transaction, orgId, cancellationToken)), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await notifier.PublishAsync(notice);
        return TypedResults.Created($"/api/v1/orgs/{orgId}/api-keys/{id}",
            new IssuedApiKeyResponse(id, request.Name.Trim(), key.Prefix, key.FullKey, permissions, createdAt, null));
    }
}
