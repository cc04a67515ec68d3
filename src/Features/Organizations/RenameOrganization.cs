using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

// [Required] also refuses a blank name (whitespace only): the 400 comes before the handler.
public sealed record RenameOrganizationRequest([property: Required, StringLength(100, MinimumLength = 1)] string Name);

public static class RenameOrganization
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPatch("/{orgId:guid}", Handle)
            .WithName("RenameOrganization")
            .WithSummary("Rename an organization")
            .RequireOrgRole(OrgRole.Admin);

    public static async Task<Ok<OrganizationResponse>> Handle(
        Guid orgId, RenameOrganizationRequest request, ClaimsPrincipal user, HttpContext context, NpgsqlDataSource dataSource, AuditLog audit, CancellationToken cancellationToken)
    {
        var name = request.Name.Trim();

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var oldName = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
            "SELECT name FROM organizations WHERE id = @orgId FOR UPDATE", new { orgId }, transaction, cancellationToken: cancellationToken));
        var row = await connection.QuerySingleAsync<Row>(new CommandDefinition("""
            UPDATE organizations SET name = @name, updated_at = now() WHERE id = @orgId
            RETURNING id, name, created_at AS CreatedAt, updated_at AS UpdatedAt
            """, new { orgId, name }, transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "org.renamed", "organization", orgId.ToString(),
            new { from = oldName, to = row.Name }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new OrganizationResponse(row.Id, row.Name, OrgMembership.From(context).Role.ToName(), row.CreatedAt, row.UpdatedAt));
    }

    private sealed record Row(Guid Id, string Name, DateTime CreatedAt, DateTime UpdatedAt);
}
