using System.Security.Claims;
using Dapper;
using Npgsql;
using Service.Infrastructure.Security;

namespace Service.Features.Auth;

public sealed record CurrentUserResponse(Guid Id, string Email, string DisplayName, DateTimeOffset CreatedAt, IReadOnlyList<CurrentUserOrganization> Organizations);

public sealed record CurrentUserOrganization(Guid Id, string Name, string Role);

public static class GetCurrentUser
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/me", Handle)
            .WithName("GetCurrentUser")
            .WithSummary("Get the signed-in user")
            .RequireAuthorization(AuthPolicies.User)
            .ProducesProblem(StatusCodes.Status404NotFound);

    public static async Task<Results<Ok<CurrentUserResponse>, ProblemHttpResult>> Handle(ClaimsPrincipal principal, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var userId = principal.RequiredUserId();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        using var results = await connection.QueryMultipleAsync(new CommandDefinition("""
            SELECT id, email, display_name AS DisplayName, created_at AS CreatedAt FROM users WHERE id = @userId AND deleted_at IS NULL;
            SELECT o.id, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
            WHERE m.user_id = @userId AND o.deleted_at IS NULL ORDER BY o.name, o.id;
            """, new { userId }, cancellationToken: cancellationToken));
        var user = await results.ReadSingleOrDefaultAsync<UserRow>();
        // A valid token for an account deleted since it was issued.
        if (user is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: "This account no longer exists.");
        var organizations = (await results.ReadAsync<CurrentUserOrganization>()).ToList();
        return TypedResults.Ok(new CurrentUserResponse(user.Id, user.Email, user.DisplayName, user.CreatedAt, organizations));
    }

    private sealed record UserRow(Guid Id, string Email, string DisplayName, DateTime CreatedAt);
}
