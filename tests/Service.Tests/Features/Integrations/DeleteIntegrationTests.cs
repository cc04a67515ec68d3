using Service.Tests.Fixtures;

namespace Service.Tests.Features.Integrations;

public sealed class DeleteIntegrationTests(DeleteIntegrationTests.Factory factory) : IClassFixture<DeleteIntegrationTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory() => Settings["Integrations:RetrySchedule"] = "3600";
    }

    [Fact]
    public async Task Deleting_cancels_queued_messages_and_wipes_the_secrets()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => new WebhookReceiver.Reply(503);
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        // Each fails once and waits for a retry up to an hour away.
        await factory.EnqueueAsync(orgId, integration.Id, count: 3);
        await WebhookReceiver.WaitUntilAsync(() => receiver.Hits.Count == 3, TimeSpan.FromSeconds(10));
        await Task.Delay(300);

        var deleted = await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.Client.GetAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}")).StatusCode);
        Assert.Equal(3L, await factory.ScalarAsync<long>("SELECT count(*) FROM webhook_deliveries WHERE integration_id = $1 AND status = 'failed' AND last_error_class = 'integration_deleted'", integration.Id));
        Assert.Empty(await factory.ScalarAsync<byte[]>("SELECT secrets FROM integrations WHERE id = $1", integration.Id));
        Assert.Equal(1, await factory.CountAuditAsync("integration.deleted", integration.Id.ToString()));
        await Task.Delay(500);
        Assert.Equal(3, receiver.Hits.Count);
    }
}
