using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Security;

namespace Service.Features.Integrations;

/// <summary>Fields left out keep their value; headers, when given, replace all headers (values included).</summary>
public sealed record UpdateIntegrationRequest(
    [property: StringLength(100, MinimumLength = 1)] string? Name,
    string? Url,
    Dictionary<string, string>? Headers);

/// <summary>With If-Match (the ETag of a GET), a change made by someone else in between answers 412 instead of being overwritten.</summary>
public static class UpdateIntegration
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPatch("/{integrationId:guid}", Handle)
            .WithName("UpdateIntegration")
            .WithSummary("Change an integration's name, URL or headers")
            .RequireOrgRole(OrgRole.Admin);

    public static async Task<Results<Ok<IntegrationResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, Guid integrationId, UpdateIntegrationRequest request, HttpContext http, ClaimsPrincipal user,
        [AsParameters] IntegrationServices services, CancellationToken cancellationToken)
    {
        // A new URL's name is resolved before the row is locked: DNS may take seconds, the lock should not.
        var errors = new Dictionary<string, string[]>();
        if (request.Url is not null && services.UrlRules.Check(request.Url, "url", errors) is { } newUrl)
        {
            await services.UrlRules.CheckResolvedAsync(newUrl, "url", errors, cancellationToken);
        }
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await IntegrationRow.FindAsync(connection, orgId, integrationId, transaction, cancellationToken);
        if (row is null) return IntegrationProblems.NotFound();
        var ifMatch = http.Request.Headers.IfMatch.ToString();
        if (ifMatch.Length > 0 && ifMatch != "*" && !ifMatch.Split(',', StringSplitOptions.TrimEntries).Contains(row.ETag))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status412PreconditionFailed, title: "Changed by someone else",
                detail: $"The integration is now at version {row.Version}; GET it again, then retry with its ETag.");
        }

        var kind = IntegrationKinds.Find(row.Kind)!;
        var current = IntegrationSecrets.Open(services.Box, row.Id, row.Secrets);
        var settings = kind.Accept(new IntegrationInput(request.Url ?? row.Url, request.Headers), services.UrlRules, current, errors);
        if (settings is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var updated = await connection.QuerySingleAsync<IntegrationRow>(new CommandDefinition($"""
            UPDATE integrations SET name = @name, url = @PublicUrl, header_names = @HeaderNames, secrets = @secrets, secret_key_id = @keyId,
                secret_hint = @SecretHint, version = version + 1, updated_at = now()
            WHERE id = @integrationId
            RETURNING {IntegrationRow.Columns}
            """,
            new
            {
                integrationId, name = request.Name?.Trim() ?? row.Name, settings.PublicUrl, HeaderNames = settings.HeaderNames.ToArray(),
                secrets = settings.Secrets.Seal(services.Box, row.Id), keyId = services.Box.CurrentKeyId, settings.SecretHint,
            }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "integration.updated", "integration",
            integrationId.ToString(), new { name = updated.Name, url = updated.Url, headerNames = updated.HeaderNames, urlChanged = request.Url is not null, headersChanged = request.Headers is not null }),
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        http.Response.Headers.ETag = updated.ETag;
        return TypedResults.Ok(updated.ToResponse());
    }
}
