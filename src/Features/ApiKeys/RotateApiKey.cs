using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Security;

namespace Service.Features.ApiKeys;

/// <summary>Without a grace period the old secret stops working at once; with one, both work until it ends.</summary>
public sealed record RotateApiKeyRequest([property: Range(0, 7 * 24 * 3600)] int GracePeriodSeconds = 0);

public static class RotateApiKey
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{keyId:guid}/rotate", Handle)
            .WithName("RotateApiKey")
            .WithSummary("Rotate an API key")
            .ProducesProblem(StatusCodes.Status404NotFound);

    public static async Task<Results<Ok<IssuedApiKeyResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid keyId, RotateApiKeyRequest? request, ClaimsPrincipal user, NpgsqlDataSource dataSource, AuditLog audit, Notifier notifier, CancellationToken cancellationToken)
    {
        var grace = request?.GracePeriodSeconds ?? 0;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var current = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            "SELECT name, prefix, permissions, created_at AS CreatedAt FROM api_keys WHERE id = @keyId AND org_id = @orgId AND revoked_at IS NULL FOR UPDATE",
            new { keyId, orgId }, transaction, cancellationToken: cancellationToken));
        if (current is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such key", detail: "The key does not exist or was revoked.");

        var key = ApiKeyFormat.WithSecret(current.Prefix);
        var previousValidUntil = await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition("""
            UPDATE api_keys SET
                previous_secret_hash = CASE WHEN @grace > 0 THEN secret_hash END,
                previous_valid_until = CASE WHEN @grace > 0 THEN now() + make_interval(secs => @grace) END,
                secret_hash = @SecretHash,
                updated_at = now()
            WHERE id = @keyId
            RETURNING previous_valid_until
            """, new { keyId, grace, key.SecretHash }, transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "api_key.rotated", "api_key", keyId.ToString(),
            new { gracePeriodSeconds = grace }), cancellationToken);
        var notice = await notifier.NotifyOrgAdminsAsync(connection, transaction, orgId, user.RequiredUserId(),
            ApiKeyNotices.Changed("rotated", keyId, current.Name, current.Prefix, user, await Notices.OrgNameAsync(connection, transaction, orgId, cancellationToken)), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await notifier.PublishAsync(notice);
        return TypedResults.Ok(new IssuedApiKeyResponse(keyId, current.Name, current.Prefix, key.FullKey, current.Permissions, current.CreatedAt,
            previousValidUntil is { } until ? DateTime.SpecifyKind(until, DateTimeKind.Utc) : null));
    }

    // A class, not a positional record: Dapper cannot map text[] onto a constructor.
    private sealed class Row
    {
        public string Name { get; init; } = "";
        public string Prefix { get; init; } = "";
        public string[] Permissions { get; init; } = [];
        public DateTime CreatedAt { get; init; }
    }
}
