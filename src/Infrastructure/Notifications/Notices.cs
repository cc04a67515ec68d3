using System.Data.Common;
using Dapper;

namespace Service.Infrastructure.Notifications;

/// <summary>Small helpers for wording notifications.</summary>
public static class Notices
{
    public static Task<string> OrgNameAsync(DbConnection connection, DbTransaction transaction, Guid orgId, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync<string>(new CommandDefinition("SELECT name FROM organizations WHERE id = @orgId", new { orgId }, transaction, cancellationToken: cancellationToken));

    /// <summary>"an admin", "a member".</summary>
    public static string Article(string word) => word.Length > 0 && "aeiou".Contains(char.ToLowerInvariant(word[0])) ? "an" : "a";
}
