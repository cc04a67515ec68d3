using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Integrations;

/// <summary>Several instances share the outbox: each message is delivered once, and an instance that dies loses nothing.</summary>
public sealed class DeliveryScaleOutTests(DeliveryScaleOutTests.Factory factory) : IClassFixture<DeliveryScaleOutTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Integrations:RetrySchedule"] = "0.2,0.2,0.2";
            Settings["Integrations:AttemptTimeoutSeconds"] = "2";
            Settings["Integrations:LeaseSeconds"] = "5";
            Settings["Integrations:BreakerMinimumThroughput"] = "1000";
            // Few slots in-process, so that the separate process below takes most of a burst.
            Settings["Integrations:DeliveryConcurrency"] = "4";
        }
    }

    [Fact]
    public async Task Two_instances_deliver_1000_messages_each_exactly_once_and_share_the_work()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        await using var second = await factory.AnotherInstanceAsync();
        second.CreateClient(); // starts its worker

        var ids = await factory.EnqueueAsync(orgId, integration.Id, count: 1000);

        await WebhookReceiver.WaitUntilAsync(() => receiver.Acknowledged.Count >= 1000, TimeSpan.FromSeconds(60), () => $"{receiver.Acknowledged.Count} acknowledged");
        await Task.Delay(500);
        Assert.Equal(ids.Order(), receiver.Acknowledged.Keys.Order());
        Assert.All(receiver.Acknowledged.Values, count => Assert.Equal(1, count));
        Assert.Equal(1000, receiver.Hits.Count); // no duplicate even unacknowledged
        var instances = await factory.ScalarAsync<long>("SELECT count(DISTINCT claimed_by) FROM webhook_deliveries WHERE integration_id = $1 AND status = 'delivered'", integration.Id);
        Assert.Equal(2, instances);
    }

    [Fact]
    public async Task An_instance_killed_while_holding_claims_loses_nothing()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // First arrivals hang past the kill; the retry of each is acknowledged.
        receiver.Answer = hit => hit.Arrival == 1 ? new WebhookReceiver.Reply(200, Delay: TimeSpan.FromSeconds(30)) : new WebhookReceiver.Reply(204);
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        var environment = factory.BaseSettings().Concat(factory.Settings).ToDictionary(kv => kv.Key.Replace(":", "__"), kv => kv.Value ?? "");
        environment["ENVIRONMENT"] = "development";
        environment["Integrations__DeliveryConcurrency"] = "32";
        environment["Integrations__AttemptTimeoutSeconds"] = "5";
        environment["Integrations__LeaseSeconds"] = "11";
        var (doomed, _) = await ServiceProcess.StartListeningAsync(environment, TimeSpan.FromSeconds(60));
        await using var stopped = doomed;

        var ids = await factory.EnqueueAsync(orgId, integration.Id, count: 30);
        await WebhookReceiver.WaitUntilAsync(() => receiver.Hits.Count >= 30, TimeSpan.FromSeconds(20), () => $"{receiver.Hits.Count} arrived");
        var heldByDoomed = await factory.ScalarAsync<long>("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND claimed_by LIKE $1", $"%:{doomed.Id}:%");
        doomed.Kill();

        // Its claims come due when their lease ends, and the in-process instance delivers them.
        await WebhookReceiver.WaitUntilAsync(() => ids.All(receiver.Acknowledged.ContainsKey), TimeSpan.FromSeconds(90), () => $"{receiver.Acknowledged.Count} of 30 acknowledged");
        Assert.True(heldByDoomed > 0, "the killed instance held no claim: the test proved nothing");
        Assert.All(ids, id => Assert.Equal(1, receiver.Acknowledged[id]));
    }
}
