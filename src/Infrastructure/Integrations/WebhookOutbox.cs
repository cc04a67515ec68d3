using System.Data.Common;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Integrations;

/// <summary>
/// Queues a message to an integration inside the caller's transaction: it is sent if and only if what caused it
/// commits, and never from the request path. The NOTIFY (delivered at commit) wakes a worker at once; without it
/// workers still find the row on their next poll.
/// </summary>
public sealed class WebhookOutbox(IOptions<IntegrationOptions> options)
{
    public const string Channel = "webhook_deliveries";

    public async Task<Guid> EnqueueAsync(DbConnection connection, DbTransaction transaction, Guid orgId, Guid integrationId, string eventType, object data,
        CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        var inserted = await connection.ExecuteAsync(new CommandDefinition($"""
            INSERT INTO webhook_deliveries (id, org_id, integration_id, event_type, payload, max_attempts)
            SELECT @id, @orgId, @integrationId, @eventType, @payload::jsonb, @maxAttempts
            FROM integrations WHERE id = @integrationId AND org_id = @orgId AND deleted_at IS NULL;
            SELECT pg_notify('{Channel}', '');
            """,
            new { id, orgId, integrationId, eventType, payload = JsonSerializer.Serialize(data, JsonSerializerOptions.Web), maxAttempts = options.Value.MaxAttempts },
            transaction, cancellationToken: cancellationToken));
        if (inserted == 0) throw new InvalidOperationException($"Integration {integrationId} does not exist in organization {orgId}.");
        return id;
    }
}
