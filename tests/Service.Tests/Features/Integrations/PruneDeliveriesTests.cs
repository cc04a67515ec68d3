using Service.Tests.Fixtures;

namespace Service.Tests.Features.Integrations;

public sealed class PruneDeliveriesTests(PruneDeliveriesTests.Factory factory) : IClassFixture<PruneDeliveriesTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Integrations:RetentionIntervalSeconds"] = "1";
            Settings["Integrations:DeliveryRetentionDays"] = "7";
            Settings["Integrations:RetrySchedule"] = "3600";
        }
    }

    [Fact]
    public async Task Completed_deliveries_past_retention_are_deleted_and_pending_ones_never()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = hit => JsonDocument.Parse(hit.Body).RootElement.GetProperty("data").GetProperty("sequence").GetInt32() == 0 ? new WebhookReceiver.Reply(204) : new WebhookReceiver.Reply(503);
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        var ids = (await factory.EnqueueAsync(orgId, integration.Id, count: 3)).Select(id => Guid.ParseExact(id[4..], "N")).ToList();
        await WebhookReceiver.WaitUntilAsync(() => receiver.Hits.Count == 3, TimeSpan.FromSeconds(10));
        await Task.Delay(300);
        await using (var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName))
        {
            // The delivered one and one pending were created long ago; the third pending one is recent.
            await dataSource.CreateCommand($"UPDATE webhook_deliveries SET created_at = now() - interval '30 days', completed_at = CASE WHEN status = 'delivered' THEN now() - interval '8 days' END WHERE id IN ('{ids[0]}', '{ids[1]}')").ExecuteNonQueryAsync();
        }

        await WebhookReceiver.WaitUntilAsync(() => factory.ScalarAsync<long>("SELECT count(*) FROM webhook_deliveries WHERE id = $1", ids[0]).GetAwaiter().GetResult() == 0, TimeSpan.FromSeconds(10));

        Assert.Equal(2L, await factory.ScalarAsync<long>("SELECT count(*) FROM webhook_deliveries WHERE integration_id = $1 AND status = 'pending'", integration.Id));
    }
}
