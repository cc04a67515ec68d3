using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Service.Infrastructure.Integrations;

namespace Service.Tests.Fixtures;

/// <summary>Integrations made through the public API, and messages queued through the outbox as a workflow step would.</summary>
public static class IntegrationSetup
{
    public sealed record CreatedIntegration(Guid Id, string? SigningSecret, JsonElement Body);

    public static async Task<CreatedIntegration> CreateWebhookAsync(this TestUser admin, Guid orgId, string url, object? headers = null, string name = "orders")
    {
        var response = await admin.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations", new { kind = "webhook", name, url, headers });
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return new CreatedIntegration(body.GetProperty("id").GetGuid(), body.GetProperty("signingSecret").GetString(), body);
    }

    /// <summary>Queues messages in one transaction through the app's own outbox; returns their webhook-ids in order.</summary>
    public static async Task<List<string>> EnqueueAsync(this ServiceFactory factory, Guid orgId, Guid integrationId, int count = 1, string type = "workflow.completed")
    {
        var outbox = factory.Services.GetRequiredService<WebhookOutbox>();
        await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var id = await outbox.EnqueueAsync(connection, transaction, orgId, integrationId, type, new { sequence = i, path = "/reports/q3.xlsx" }, CancellationToken.None);
            ids.Add($"msg_{id:N}");
        }
        await transaction.CommitAsync();
        return ids;
    }

    public static async Task<JsonElement> DeliveryAsync(this TestUser member, Guid orgId, Guid integrationId, string webhookId)
    {
        var page = await member.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/integrations/{integrationId}/deliveries?limit=200");
        return page.GetProperty("items").EnumerateArray().Single(d => d.GetProperty("webhookId").GetString() == webhookId);
    }

    /// <summary>Polls the delivery log until the delivery has <paramref name="status"/>; returns it then.</summary>
    public static async Task<JsonElement> WaitForDeliveryAsync(this TestUser member, Guid orgId, Guid integrationId, string webhookId, string status, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var delivery = await member.DeliveryAsync(orgId, integrationId, webhookId);
            if (delivery.GetProperty("status").GetString() == status) return delivery;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"delivery {webhookId} not {status} within {seconds} s: {delivery}");
            await Task.Delay(50);
        }
    }

    public static async Task<T> ScalarAsync<T>(this ServiceFactory factory, string sql, params object[] parameters)
    {
        await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var command = dataSource.CreateCommand(sql);
        foreach (var p in parameters) command.Parameters.Add(new NpgsqlParameter { Value = p });
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
