using System.Data.Common;
using Dapper;

namespace Service.Infrastructure.Security;

/// <summary>
/// Membership changes of one organization are serialized on its row, so that two concurrent demotions, removals or
/// account deletions of its last two owners cannot both see "another owner remains".
/// </summary>
public static class Ownership
{
    public static async Task<int> LockAndCountOwnersAsync(DbConnection connection, DbTransaction transaction, Guid orgId, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition("SELECT 1 FROM organizations WHERE id = @orgId FOR UPDATE",
            new { orgId }, transaction, cancellationToken: cancellationToken));
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT count(*) FROM memberships WHERE org_id = @orgId AND role = 'owner'",
            new { orgId }, transaction, cancellationToken: cancellationToken));
    }

    public static ProblemHttpResult LastOwner() => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict,
        title: "Last owner",
        detail: "An organization must keep at least one owner: make someone else owner first.");
}
