using Dapper;
using Npgsql;

namespace Service.Features.ApiKeys;

public sealed record ApiKeyListResponse(IReadOnlyList<ApiKeySummary> Items);

public sealed record ApiKeySummary(Guid Id, string Name, string Prefix, IReadOnlyList<string> Permissions, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

/// <summary>Every key of the organization, revoked ones included; never a secret.</summary>
public static class ListApiKeys
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListApiKeys")
            .WithSummary("List an organization's API keys");

    public static async Task<Ok<ApiKeyListResponse>> Handle(Guid orgId, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            SELECT id, name, prefix, permissions, created_at AS CreatedAt, last_used_at AS LastUsedAt, revoked_at AS RevokedAt
            FROM api_keys WHERE org_id = @orgId ORDER BY created_at, id
            """, new { orgId }, cancellationToken: cancellationToken));
        return TypedResults.Ok(new ApiKeyListResponse(rows.Select(r =>
            new ApiKeySummary(r.Id, r.Name, r.Prefix, r.Permissions, r.CreatedAt, r.LastUsedAt, r.RevokedAt)).ToList()));
    }

    // A class, not a positional record: Dapper cannot map text[] onto a constructor.
    private sealed class Row
    {
        public Guid Id { get; init; }
        public string Name { get; init; } = "";
        public string Prefix { get; init; } = "";
        public string[] Permissions { get; init; } = [];
        public DateTime CreatedAt { get; init; }
        public DateTime? LastUsedAt { get; init; }
        public DateTime? RevokedAt { get; init; }
    }
}
