using System.Security.Claims;
using Dapper;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Security;

namespace Service.Features.Integrations;

/// <summary>
/// Queues a completed delivery again, with the same webhook-id (receivers that already have it can drop it) and a
/// fresh set of attempts. A delivery still pending is already being retried: 409.
/// </summary>
public static class RedeliverDelivery
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{integrationId:guid}/deliveries/{deliveryId:guid}/redeliver", Handle)
            .WithName("RedeliverDelivery")
            .WithSummary("Send a delivered or failed message again")
            .RequireOrgRole(OrgRole.Admin);

    public static async Task<Results<Accepted<DeliveryResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid integrationId, Guid deliveryId, ClaimsPrincipal user, [AsParameters] IntegrationServices services, IOptions<IntegrationOptions> options,
        CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<DeliveryRow>(new CommandDefinition($"""
            SELECT {DeliveryRow.Columns} FROM webhook_deliveries d
            WHERE id = @deliveryId AND integration_id = @integrationId AND org_id = @orgId
              AND EXISTS (SELECT 1 FROM integrations i WHERE i.id = d.integration_id AND i.deleted_at IS NULL)
            FOR UPDATE
            """, new { deliveryId, integrationId, orgId }, transaction, cancellationToken: cancellationToken));
        if (row is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such delivery", detail: "The delivery or its integration does not exist.");
        if (row.Status == "pending")
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Still being delivered",
                detail: "The delivery is pending; it is retried on its schedule.");
        }
        var queued = await connection.QuerySingleAsync<DeliveryRow>(new CommandDefinition($"""
            UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), max_attempts = attempts + @maxAttempts, completed_at = NULL, claimed_by = NULL
            WHERE id = @deliveryId
            RETURNING {DeliveryRow.Columns}
            """, new { deliveryId, maxAttempts = options.Value.MaxAttempts }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition($"SELECT pg_notify('{WebhookOutbox.Channel}', '')", transaction: transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "integration.delivery_redelivered",
            "webhook_delivery", deliveryId.ToString(), new { integrationId, previousStatus = row.Status }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Accepted($"/api/v1/orgs/{orgId}/integrations/{integrationId}/deliveries", queued.ToResponse());
    }
}
