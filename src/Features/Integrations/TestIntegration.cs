using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Options;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Secrets;
using Service.Infrastructure.Security;
using Service.Infrastructure.Database;

namespace Service.Features.Integrations;

/// <summary>Result is "delivered" only for a 2xx answer; anything else says "failed" with what happened.</summary>
public sealed record IntegrationTestResponse(Guid DeliveryId, string Result, int? StatusCode, int LatencyMs, string? ErrorClass, string? Error, string? ResponseExcerpt);

/// <summary>
/// Sends a signed integration.test message now, through the same request building, address checks and signing as
/// every delivery (but without the per-destination circuit breaker), waits at most the attempt timeout and says
/// what happened. The attempt is kept in the delivery log; it is not retried.
/// </summary>
public static class TestIntegration
{
    public const string EventType = "integration.test";

    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{integrationId:guid}/test", Handle)
            .WithName("TestIntegration")
            .WithSummary("Send a test message now and report the receiver's answer")
            .RequireOrgRole(OrgRole.Admin)
            .RequireFeature(FeatureFlagCatalog.OutboundWebhooks);

    public static async Task<Results<Ok<IntegrationTestResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid integrationId, [AsParameters] IntegrationServices services, WebhookSender sender, IOptions<IntegrationOptions> options,
        CancellationToken cancellationToken)
    {
        IntegrationRow? row;
        await using (var connection = await services.DataSource.OpenConnectionAsync(cancellationToken))
        {
            row = await IntegrationRow.FindAsync(connection, orgId, integrationId, null, cancellationToken);
        }
        if (row is null) return IntegrationProblems.NotFound();

        var now = services.Time.GetUtcNow();
        var message = new OutboundMessage(Guid.CreateVersion7(), EventType, now,
            JsonSerializer.Serialize(new { integrationId, text = $"Test message for the integration '{row.Name}'." }, JsonSerializerOptions.Web));
        var kind = IntegrationKinds.Find(row.Kind)!;
        AttemptResult result;
        try
        {
            var target = kind.Target(row.Id, row.Url, IntegrationSecrets.Open(services.Box, row.Id, row.Secrets), row.PreviousSecretExpiresAt.AsUtc(), now);
            using var request = kind.BuildRequest(target, message, now);
            result = await sender.SendAsync(OutboundHttp.Tests, request, options.Value.AttemptTimeout, cancellationToken);
        }
        catch (SecretUnavailableException)
        {
            result = new AttemptResult(false, false, null, WebhookSender.SecretUnavailable, "The integration's secrets cannot be decrypted; the operators must restore the encryption key.", 0, null, null);
        }

        var status = result.Delivered ? "delivered" : "failed";
        await using (var connection = await services.DataSource.OpenConnectionAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO webhook_deliveries (id, org_id, integration_id, event_type, payload, status, attempts, max_attempts, created_at, last_attempt_at,
                    completed_at, last_status_code, last_error_class, last_error, last_latency_ms, last_response_excerpt)
                VALUES (@Id, @orgId, @integrationId, @EventType, @DataJson::jsonb, @status, 1, 1, @CreatedAt, now(), now(),
                    @StatusCode, @ErrorClass, @Error, @LatencyMs, @ResponseExcerpt)
                """,
                new
                {
                    message.Id, orgId, integrationId, message.EventType, message.DataJson, status, message.CreatedAt,
                    result.StatusCode, result.ErrorClass, result.Error, result.LatencyMs, result.ResponseExcerpt,
                }, cancellationToken: cancellationToken));
        }
        return TypedResults.Ok(new IntegrationTestResponse(message.Id, status, result.StatusCode, result.LatencyMs, result.ErrorClass, result.Error, result.ResponseExcerpt));
    }
}
