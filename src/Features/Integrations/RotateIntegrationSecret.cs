using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Security;

namespace Service.Features.Integrations;

/// <summary>Without a grace period the old secret stops signing at once; with one, messages carry both signatures until it ends.</summary>
public sealed record RotateIntegrationSecretRequest([property: Range(0, 7 * 24 * 3600)] int GracePeriodSeconds = 0);

public static class RotateIntegrationSecret
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{integrationId:guid}/rotate-secret", Handle)
            .WithName("RotateIntegrationSecret")
            .WithSummary("Replace a webhook integration's signing secret (the new one is shown once)")
            .RequireOrgRole(OrgRole.Admin);

    public static async Task<Results<Ok<IntegrationResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid integrationId, RotateIntegrationSecretRequest? request, ClaimsPrincipal user, [AsParameters] IntegrationServices services,
        CancellationToken cancellationToken)
    {
        var grace = request?.GracePeriodSeconds ?? 0;
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await IntegrationRow.FindAsync(connection, orgId, integrationId, transaction, cancellationToken);
        if (row is null) return IntegrationProblems.NotFound();
        if (row.Kind != IntegrationKinds.Webhook.Name)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "No signing secret",
                detail: $"A {row.Kind} integration is not signed; change its URL to replace its credential.");
        }

        var current = IntegrationSecrets.Open(services.Box, row.Id, row.Secrets);
        var secrets = current with { SigningSecret = WebhookKind.NewSigningSecret(), PreviousSigningSecret = grace > 0 ? current.SigningSecret : null };
        var updated = await connection.QuerySingleAsync<IntegrationRow>(new CommandDefinition($"""
            UPDATE integrations SET secrets = @sealed, secret_key_id = @keyId, secret_hint = @hint,
                previous_secret_expires_at = CASE WHEN @grace > 0 THEN now() + make_interval(secs => @grace) END,
                version = version + 1, updated_at = now()
            WHERE id = @integrationId
            RETURNING {IntegrationRow.Columns}
            """,
            new { integrationId, @sealed = secrets.Seal(services.Box, row.Id), keyId = services.Box.CurrentKeyId, hint = WebhookKind.Hint(secrets.SigningSecret!), grace },
            transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", user.RequiredUserId().ToString(), orgId, "integration.secret_rotated", "integration",
            integrationId.ToString(), new { gracePeriodSeconds = grace }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(updated.ToResponse(secrets.SigningSecret));
    }
}
