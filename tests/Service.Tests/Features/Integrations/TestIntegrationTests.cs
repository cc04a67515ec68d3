using System.Net.Sockets;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Integrations;

/// <summary>The test call reports what really happened, and its signatures pass the reference verifier.</summary>
public sealed class TestIntegrationTests(TestIntegrationTests.Factory factory) : IClassFixture<TestIntegrationTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory() => Settings["Integrations:AttemptTimeoutSeconds"] = "1";
    }

    private async Task<JsonElement> TestAsync(TestUser owner, Guid orgId, Guid integrationId)
    {
        var response = await owner.Client.PostAsync($"/api/v1/orgs/{orgId}/integrations/{integrationId}/test", null);
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task A_test_message_is_signed_so_that_the_reference_verifier_accepts_it()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        // The verifier needs the secret first, and the integration needs the verifier's URL: create, then point it there.
        var integration = await owner.CreateWebhookAsync(orgId, "http://127.0.0.1:9/");
        await using var verifier = await NodeVerifier.StartAsync(integration.SigningSecret!, "whsec_" + Convert.ToBase64String(new byte[32]));
        await Identity.EnsureAsync(await owner.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}", new { url = verifier.Url }), HttpStatusCode.OK);

        var result = await TestAsync(owner, orgId, integration.Id);

        Assert.Equal("delivered", result.GetProperty("result").GetString());
        Assert.Equal(204, result.GetProperty("statusCode").GetInt32());
        var seen = Assert.Single(verifier.Requests);
        Assert.Equal([true, false], seen.Verified);
        var delivery = await owner.DeliveryAsync(orgId, integration.Id, seen.Id);
        Assert.Equal("integration.test", delivery.GetProperty("eventType").GetString());
        Assert.Equal("delivered", delivery.GetProperty("status").GetString());
    }

    [Fact]
    public async Task During_a_rotation_grace_period_old_and_new_secrets_both_verify_and_afterwards_only_the_new()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, "http://127.0.0.1:9/");
        var rotated = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}/rotate-secret", new { gracePeriodSeconds = 3600 });
        await Identity.EnsureAsync(rotated, HttpStatusCode.OK);
        var rotatedBody = await rotated.Content.ReadFromJsonAsync<JsonElement>();
        var newSecret = rotatedBody.GetProperty("signingSecret").GetString()!;
        Assert.NotEqual(integration.SigningSecret, newSecret);
        Assert.NotEqual(JsonValueKind.Null, rotatedBody.GetProperty("previousSecretExpiresAt").ValueKind);
        Assert.Equal(1, await factory.CountAuditAsync("integration.secret_rotated", integration.Id.ToString()));

        await using var verifier = await NodeVerifier.StartAsync(integration.SigningSecret!, newSecret);
        await owner.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}", new { url = verifier.Url });
        await TestAsync(owner, orgId, integration.Id);
        await Identity.EnsureAsync(await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}/rotate-secret", new { }), HttpStatusCode.OK);
        await TestAsync(owner, orgId, integration.Id);

        var requests = verifier.Requests.ToArray();
        Assert.Equal(2, requests[0].Signature.Split(' ').Length);
        Assert.Equal([true, true], requests[0].Verified);
        Assert.Equal([false, false], requests[1].Verified); // a third secret now: neither old one signs
    }

    [Fact]
    public async Task Failures_are_reported_as_failures_with_their_class()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var closedPort = ServiceProcess.FreePort();

        async Task<JsonElement> ResultFor(string url)
        {
            var integration = await owner.CreateWebhookAsync(orgId, url);
            return await TestAsync(owner, orgId, integration.Id);
        }

        receiver.Answer = hit => hit.Path switch
        {
            "/500" => new WebhookReceiver.Reply(500, "upstream exploded"),
            "/hang" => new WebhookReceiver.Reply(200, Delay: TimeSpan.FromSeconds(30)),
            _ => new WebhookReceiver.Reply(200),
        };
        var refused = await ResultFor($"http://127.0.0.1:{closedPort}/");
        var status = await ResultFor(receiver.Url("/500"));
        var hang = await ResultFor(receiver.Url("/hang"));

        Assert.Equal(("failed", "connection_refused"), (refused.GetProperty("result").GetString(), refused.GetProperty("errorClass").GetString()));
        Assert.Equal(("failed", "http_status", 500), (status.GetProperty("result").GetString(), status.GetProperty("errorClass").GetString(), status.GetProperty("statusCode").GetInt32()));
        Assert.Equal("upstream exploded", status.GetProperty("responseExcerpt").GetString());
        Assert.Equal(("failed", "timeout"), (hang.GetProperty("result").GetString(), hang.GetProperty("errorClass").GetString()));
        Assert.InRange(hang.GetProperty("latencyMs").GetInt32(), 900, 2500);
    }
}
