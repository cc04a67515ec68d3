using System.Data.Common;
using Dapper;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Secrets;
using Service.Infrastructure.Database;

namespace Service.Features.Integrations;

/// <summary>What the integration slices need, bundled as one parameter.</summary>
public sealed record IntegrationServices(NpgsqlDataSource DataSource, SecretBox Box, AuditLog Audit, OutboundUrlRules UrlRules, TimeProvider Time);

/// <summary>
/// An integration as members see it: never a secret, only a masked hint. <see cref="SigningSecret"/> is set once, in
/// the answer to create and rotate-secret of a webhook integration.
/// </summary>
public sealed record IntegrationResponse(
    Guid Id, string Kind, string Name, string? Url, IReadOnlyList<string> HeaderNames, string SecretHint,
    DateTimeOffset? PreviousSecretExpiresAt, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? SigningSecret = null);

public sealed class IntegrationRow
{
    public const string Columns = """
        id, org_id AS OrgId, kind, name, url, header_names AS HeaderNames, secrets, secret_hint AS SecretHint,
        previous_secret_expires_at AS PreviousSecretExpiresAt, version, created_at AS CreatedAt, updated_at AS UpdatedAt
        """;

    public Guid Id { get; init; }
    public Guid OrgId { get; init; }
    public string Kind { get; init; } = "";
    public string Name { get; init; } = "";
    public string? Url { get; init; }
    public string[] HeaderNames { get; init; } = [];
    public byte[] Secrets { get; init; } = [];
    public string SecretHint { get; init; } = "";
    public DateTime? PreviousSecretExpiresAt { get; init; }
    public int Version { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    /// <summary>A strong validator for If-Match: the row's version, bumped by every change.</summary>
    public string ETag => $"\"{Version}\"";

    public IntegrationResponse ToResponse(string? signingSecret = null) => new(
        Id, Kind, Name, Url, HeaderNames, SecretHint, PreviousSecretExpiresAt.AsUtc(), Version, CreatedAt.AsUtc(), UpdatedAt.AsUtc(), signingSecret);

    /// <summary>The organization's live integration, optionally locked for an update in <paramref name="transaction"/>.</summary>
    public static Task<IntegrationRow?> FindAsync(DbConnection connection, Guid orgId, Guid id, DbTransaction? transaction, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<IntegrationRow>(new CommandDefinition(
            $"SELECT {Columns} FROM integrations WHERE id = @id AND org_id = @orgId AND deleted_at IS NULL" + (transaction is null ? "" : " FOR UPDATE"),
            new { id, orgId }, transaction, cancellationToken: cancellationToken));
}

public static class IntegrationProblems
{
    public static ProblemHttpResult NotFound() =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such integration", detail: "The integration does not exist or was deleted.");
}
