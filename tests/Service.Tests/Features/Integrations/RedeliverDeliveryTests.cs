using Service.Tests.Fixtures;

namespace Service.Tests.Features.Integrations;

public sealed class RedeliverDeliveryTests(RedeliverDeliveryTests.Factory factory) : IClassFixture<RedeliverDeliveryTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory() => Settings["Integrations:RetrySchedule"] = "0.1";
    }

    [Fact]
    public async Task A_failed_delivery_is_sent_again_with_the_same_webhook_id()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = hit => hit.Arrival == 1 ? new WebhookReceiver.Reply(404) : new WebhookReceiver.Reply(204);
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        var id = (await factory.EnqueueAsync(orgId, integration.Id)).Single();
        await owner.WaitForDeliveryAsync(orgId, integration.Id, id, "failed", seconds: 10);
        var deliveryId = Guid.ParseExact(id[4..], "N");

        var response = await owner.Client.PostAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}/deliveries/{deliveryId}/redeliver", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await WebhookReceiver.WaitUntilAsync(() => receiver.Acknowledged.ContainsKey(id), TimeSpan.FromSeconds(10));
        // The receiver has answered; the service records that a moment later.
        await owner.WaitForDeliveryAsync(orgId, integration.Id, id, "delivered", seconds: 10);
        var delivery = await owner.DeliveryAsync(orgId, integration.Id, id);
        Assert.Equal(("delivered", 2), (delivery.GetProperty("status").GetString(), delivery.GetProperty("attempts").GetInt32()));
        Assert.Equal(1, await factory.CountAuditAsync("integration.delivery_redelivered", deliveryId.ToString()));

        var member = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, member, "member");
        Assert.Equal(HttpStatusCode.Forbidden, (await member.Client.PostAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}/deliveries/{deliveryId}/redeliver", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.Client.PostAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}/deliveries/{Guid.NewGuid()}/redeliver", null)).StatusCode);
        var list = await member.Client.GetAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}/deliveries?status=delivered");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await member.Client.GetAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}/deliveries?status=lost")).StatusCode);
    }
}
