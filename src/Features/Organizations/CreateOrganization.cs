using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;

namespace Service.Features.Organizations;

// [Required] also refuses a blank name (whitespace only): the 400 comes before the handler.
public sealed record CreateOrganizationRequest([property: Required, StringLength(100, MinimumLength = 1)] string Name);

public static class CreateOrganization
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/", Handle)
            .WithName("CreateOrganization")
            .WithSummary("Create an organization")
            .RequireAuthorization(AuthPolicies.User);

    public static async Task<Created<OrganizationResponse>> Handle(
        CreateOrganizationRequest request, ClaimsPrincipal user, NpgsqlDataSource dataSource, AuditLog audit, CancellationToken cancellationToken)
    {
        var name = request.Name.Trim();

        var userId = user.RequiredUserId();
        var orgId = Guid.CreateVersion7();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var created = await connection.QuerySingleAsync<OrganizationRow>(new CommandDefinition("""
            INSERT INTO organizations (id, name, created_by) VALUES (@orgId, @name, @userId)
            RETURNING id, name, created_at AS CreatedAt, updated_at AS UpdatedAt
            """, new { orgId, name, userId }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO memberships (org_id, user_id, role) VALUES (@orgId, @userId, 'owner')",
            new { orgId, userId }, transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "org.created", "organization", orgId.ToString(), new { name }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        return TypedResults.Created($"/api/v1/orgs/{orgId}",
            new OrganizationResponse(created.Id, created.Name, OrgRole.Owner.ToName(), created.CreatedAt, created.UpdatedAt));
    }

    private sealed record OrganizationRow(Guid Id, string Name, DateTime CreatedAt, DateTime UpdatedAt);
}
