using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Security;

namespace Service.Features.Integrations;

/// <summary>
/// Soft delete: the row stays for the delivery log's sake, its secrets are wiped, and messages still queued for it
/// are marked failed (integration_deleted) in the same transaction, so none is sent afterwards.
/// </summary>
public static class DeleteIntegration
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/{integrationId:guid}", Handle)
            .WithName("DeleteIntegration")
            .WithSummary("Delete an integration; messages still queued for it are not sent")
            .RequireOrgRole(OrgRole.Admin);

    public static async Task<Results<NoContent, ProblemHttpResult>> Handle(
        Guid orgId, Guid integrationId, ClaimsPrincipal user, [AsParameters] IntegrationServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await IntegrationRow.FindAsync(connection, orgId, integrationId, transaction, cancellationToken);
        if (row is null) return IntegrationProblems.NotFound();
        var cancelled = await connection.ExecuteAsync(new CommandDefinition($"""
            UPDATE integrations SET deleted_at = now(), secrets = '\x'::bytea, version = version + 1, updated_at = now() WHERE id = @integrationId;
            UPDATE webhook_deliveries SET status = 'failed', completed_at = now(), last_error_class = '{WebhookSender.IntegrationDeleted}',
                last_error = 'The integration was deleted.', claimed_by = NULL
            WHERE integration_id = @integrationId AND status = 'pending';
            """, new { integrationId }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "integration.deleted", "integration",
            integrationId.ToString(), new { name = row.Name, kind = row.Kind, pendingDeliveriesCancelled = cancelled - 1 }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
