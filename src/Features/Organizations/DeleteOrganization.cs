using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

/// <summary>Soft delete: every org-scoped route answers 404 from now on, and the org's agent keys stop working.</summary>
public static class DeleteOrganization
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/{orgId:guid}", Handle)
            .WithName("DeleteOrganization")
            .WithSummary("Delete an organization")
            .RequireOrgRole(OrgRole.Owner);

    public static async Task<NoContent> Handle(Guid orgId, ClaimsPrincipal user, NpgsqlDataSource dataSource, AuditLog audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE organizations SET deleted_at = now(), updated_at = now() WHERE id = @orgId AND deleted_at IS NULL",
            new { orgId }, transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "org.deleted", "organization", orgId.ToString()), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
