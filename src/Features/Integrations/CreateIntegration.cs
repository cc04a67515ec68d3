using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Security;

namespace Service.Features.Integrations;

/// <summary>Kind "webhook": url and optional headers (values are encrypted). Kind "slack": url is the incoming-webhook URL.</summary>
public sealed record CreateIntegrationRequest(
    [property: Required] string? Kind,
    [property: Required, StringLength(100, MinimumLength = 1)] string? Name,
    string? Url,
    Dictionary<string, string>? Headers);

public static class CreateIntegration
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/", Handle)
            .WithName("CreateIntegration")
            .WithSummary("Create an integration (a webhook's signing secret is shown once)")
            .RequireOrgRole(OrgRole.Admin);

    public static async Task<Results<Created<IntegrationResponse>, ValidationProblem>> Handle(
        Guid orgId, CreateIntegrationRequest request, ClaimsPrincipal user, [AsParameters] IntegrationServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var kind = IntegrationKinds.Find(request.Kind);
        if (kind is null)
        {
            errors["kind"] = [$"One of {IntegrationKinds.Names}."];
            return TypedResults.ValidationProblem(errors);
        }
        var settings = kind.Accept(new IntegrationInput(request.Url, request.Headers), services.UrlRules, null, errors);
        if (settings is not null) await services.UrlRules.CheckResolvedAsync(settings.Destination, "url", errors, cancellationToken);
        if (settings is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var id = Guid.CreateVersion7();
        var userId = user.RequiredUserId();
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<IntegrationRow>(new CommandDefinition($"""
            INSERT INTO integrations (id, org_id, kind, name, url, header_names, secrets, secret_key_id, secret_hint, created_by)
            VALUES (@id, @orgId, @kind, @name, @PublicUrl, @HeaderNames, @secrets, @keyId, @SecretHint, @userId)
            RETURNING {IntegrationRow.Columns}
            """,
            new
            {
                id, orgId, kind = kind.Name, name = request.Name!.Trim(), settings.PublicUrl, HeaderNames = settings.HeaderNames.ToArray(),
                secrets = settings.Secrets.Seal(services.Box, id), keyId = services.Box.CurrentKeyId, settings.SecretHint, userId,
            }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "integration.created", "integration", id.ToString(),
            new { kind = kind.Name, name = row.Name, url = row.Url, headerNames = row.HeaderNames }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created($"/api/v1/orgs/{orgId}/integrations/{id}", row.ToResponse(settings.Secrets.SigningSecret));
    }
}
