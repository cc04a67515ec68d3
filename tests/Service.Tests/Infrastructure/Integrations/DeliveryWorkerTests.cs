using System.Diagnostics;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Integrations;

/// <summary>
/// The outbox and its workers against real receivers on loopback: retries with the same webhook-id, Retry-After,
/// hanging and flooding receivers, permanent failures, the kill switch, redirects.
/// </summary>
public sealed class DeliveryWorkerTests(DeliveryWorkerTests.Factory factory) : IClassFixture<DeliveryWorkerTests.Factory>
{
    public sealed class Factory : OperatorServiceFactory
    {
        public Factory()
        {
            // Retries within a fraction of a second (5 attempts), short attempts, no breaker in the way.
            Settings["Integrations:RetrySchedule"] = "0.2,0.2,0.2,0.2";
            Settings["Integrations:AttemptTimeoutSeconds"] = "1";
            Settings["Integrations:LeaseSeconds"] = "5";
            Settings["Integrations:BreakerMinimumThroughput"] = "1000";
        }
    }

    private async Task<(TestUser Owner, Guid OrgId, IntegrationSetup.CreatedIntegration Integration)> SetUpAsync(WebhookReceiver receiver)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        return (owner, orgId, integration);
    }

    [Fact]
    public async Task A_receiver_failing_the_first_attempts_gets_one_acknowledged_delivery_with_the_same_id_and_body()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = hit => hit.Arrival <= 3 ? new WebhookReceiver.Reply(hit.Arrival == 2 ? 408 : 503) : new WebhookReceiver.Reply(200, "ok");
        var (owner, orgId, integration) = await SetUpAsync(receiver);

        var ids = await factory.EnqueueAsync(orgId, integration.Id, count: 3);

        await WebhookReceiver.WaitUntilAsync(() => ids.All(receiver.Acknowledged.ContainsKey), TimeSpan.FromSeconds(20));
        await Task.Delay(500); // nothing more may arrive
        foreach (var id in ids)
        {
            Assert.Equal(1, receiver.Acknowledged[id]);
            var hits = receiver.HitsFor(id);
            Assert.Equal(4, hits.Count);
            Assert.Single(hits.Select(h => h.Body).Distinct());
            var webhook = new StandardWebhooks.StandardWebhook(integration.SigningSecret!);
            foreach (var hit in hits)
            {
                var headers = new Microsoft.AspNetCore.Http.HeaderDictionary { ["webhook-id"] = hit.WebhookId, ["webhook-timestamp"] = hit.Timestamp, ["webhook-signature"] = hit.Signature };
                webhook.Verify(hit.Body, headers); // throws when the signature is wrong
            }
            var delivery = await owner.DeliveryAsync(orgId, integration.Id, id);
            Assert.Equal("delivered", delivery.GetProperty("status").GetString());
            Assert.Equal(4, delivery.GetProperty("attempts").GetInt32());
            Assert.Equal(200, delivery.GetProperty("lastStatusCode").GetInt32());
            Assert.Equal("ok", delivery.GetProperty("responseExcerpt").GetString());
        }
        var body = JsonDocument.Parse(receiver.HitsFor(ids[1])[0].Body).RootElement;
        Assert.Equal("workflow.completed", body.GetProperty("type").GetString());
        Assert.Equal(1, body.GetProperty("data").GetProperty("sequence").GetInt32());
    }

    [Fact]
    public async Task Retry_after_on_429_is_honoured()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var arrivals = new System.Collections.Concurrent.ConcurrentQueue<long>();
        receiver.Answer = hit =>
        {
            arrivals.Enqueue(Stopwatch.GetTimestamp());
            return hit.Arrival == 1 ? new WebhookReceiver.Reply(429, Headers: new Dictionary<string, string> { ["Retry-After"] = "2" }) : new WebhookReceiver.Reply(204);
        };
        var (_, orgId, integration) = await SetUpAsync(receiver);

        var id = (await factory.EnqueueAsync(orgId, integration.Id)).Single();

        await WebhookReceiver.WaitUntilAsync(() => receiver.Acknowledged.ContainsKey(id), TimeSpan.FromSeconds(20));
        var times = arrivals.ToArray();
        // The schedule alone would retry within 0.2 s.
        Assert.True(Stopwatch.GetElapsedTime(times[0], times[1]) >= TimeSpan.FromSeconds(1.9), $"retried after {Stopwatch.GetElapsedTime(times[0], times[1])}");
    }

    [Fact]
    public async Task A_hanging_receiver_times_out_each_attempt_and_the_delivery_fails_after_the_last()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => new WebhookReceiver.Reply(200, Delay: TimeSpan.FromSeconds(30));
        var (owner, orgId, integration) = await SetUpAsync(receiver);

        var id = (await factory.EnqueueAsync(orgId, integration.Id)).Single();

        var delivery = await owner.WaitForDeliveryAsync(orgId, integration.Id, id, "failed", seconds: 30);
        Assert.Equal(5, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal("timeout", delivery.GetProperty("lastErrorClass").GetString());
        Assert.InRange(delivery.GetProperty("latencyMs").GetInt32(), 900, 3000);
        Assert.Equal(5, receiver.HitsFor(id).Count);
        var deliveryId = Guid.ParseExact(id[4..], "N").ToString();
        Assert.Contains(factory.Logs.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains(deliveryId) && l.Message.Contains(orgId.ToString()) && l.Message.Contains("failed for good"));
    }

    [Fact]
    public async Task A_10_MB_answer_is_cut_to_an_excerpt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => new WebhookReceiver.Reply(200, BodyBytes: 10 * 1024 * 1024);
        var (owner, orgId, integration) = await SetUpAsync(receiver);

        var id = (await factory.EnqueueAsync(orgId, integration.Id)).Single();

        var delivery = await owner.WaitForDeliveryAsync(orgId, integration.Id, id, "delivered");
        Assert.Equal(1024, delivery.GetProperty("responseExcerpt").GetString()!.Length);
        Assert.Equal(1, delivery.GetProperty("attempts").GetInt32());
        Assert.True(delivery.GetProperty("latencyMs").GetInt32() < 1000);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(410)]
    [InlineData(302)]
    public async Task Other_4xx_and_redirects_fail_at_once(int status)
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = hit => hit.Path == "/hook"
            ? new WebhookReceiver.Reply(status, Headers: new Dictionary<string, string> { ["Location"] = receiver.Url("/elsewhere") })
            : new WebhookReceiver.Reply(200);
        var (owner, orgId, integration) = await SetUpAsync(receiver);

        var id = (await factory.EnqueueAsync(orgId, integration.Id)).Single();

        var delivery = await owner.WaitForDeliveryAsync(orgId, integration.Id, id, "failed");
        Assert.Equal(1, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal("http_status", delivery.GetProperty("lastErrorClass").GetString());
        Assert.Equal(status, delivery.GetProperty("lastStatusCode").GetInt32());
        Assert.DoesNotContain(receiver.Hits, h => h.Path == "/elsewhere");
    }

    [Fact]
    public async Task Failed_deliveries_notify_the_organizations_admins_once_an_hour_per_integration()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => new WebhookReceiver.Reply(400);
        var (owner, orgId, integration) = await SetUpAsync(receiver);
        var admin = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, admin, "admin");
        await owner.AddMemberAsync(orgId, member, "member");
        await using var stream = await SseClient.OpenAsync(admin.Client);

        var first = (await factory.EnqueueAsync(orgId, integration.Id)).Single();
        await owner.WaitForDeliveryAsync(orgId, integration.Id, first, "failed");
        var notice = (await stream.NextAsync(TimeSpan.FromSeconds(10))).Json;
        Assert.Equal("delivery.failed", notice.GetProperty("type").GetString());
        Assert.Equal(integration.Id, notice.GetProperty("data").GetProperty("integrationId").GetGuid());
        Assert.Equal("http_status", notice.GetProperty("data").GetProperty("errorClass").GetString());

        // More failures of the same integration within the hour add no notification.
        var more = await factory.EnqueueAsync(orgId, integration.Id, count: 5);
        foreach (var id in more) await owner.WaitForDeliveryAsync(orgId, integration.Id, id, "failed");
        await stream.AssertQuietAsync(TimeSpan.FromMilliseconds(500));
        Assert.Single(await owner.NotificationsAsync("?type=delivery.failed"));
        Assert.Single(await admin.NotificationsAsync("?type=delivery.failed"));
        Assert.Empty(await member.NotificationsAsync("?type=delivery.failed"));
    }

    [Fact]
    public async Task The_kill_switch_pauses_delivery_without_dropping_and_turning_it_on_drains_the_queue()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (owner, orgId, integration) = await SetUpAsync(receiver);
        var ops = await factory.OperatorAsync();
        await Identity.EnsureAsync(await ops.Client.PutAsJsonAsync("/api/v1/admin/features/OutboundWebhooks", new { enabled = false, reason = "receiver incident" }), HttpStatusCode.OK);
        try
        {
            var ids = await factory.EnqueueAsync(orgId, integration.Id, count: 20);
            var test = await owner.Client.PostAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}/test", null);
            await test.ProblemAsync(HttpStatusCode.ServiceUnavailable);
            await Task.Delay(1500);
            Assert.Empty(receiver.Hits);
            Assert.Equal("pending", (await owner.DeliveryAsync(orgId, integration.Id, ids[0])).GetProperty("status").GetString());

            await Identity.EnsureAsync(await ops.Client.PutAsJsonAsync("/api/v1/admin/features/OutboundWebhooks", new { enabled = true, reason = "resolved" }), HttpStatusCode.OK);
            await WebhookReceiver.WaitUntilAsync(() => ids.All(receiver.Acknowledged.ContainsKey), TimeSpan.FromSeconds(10));
        }
        finally
        {
            await ops.Client.PutAsJsonAsync("/api/v1/admin/features/OutboundWebhooks", new { enabled = true, reason = "test cleanup" });
        }
    }
}
