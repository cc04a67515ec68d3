using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Service.Infrastructure.Integrations;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Integrations;

/// <summary>
/// The address check at connect time, through the product's HttpClient, with names answered by a resolver the test
/// controls (the only way to make a name resolve to 10.x or 169.254.x here). Nothing may connect to a refused address,
/// even when the URL was accepted while its name resolved publicly.
/// </summary>
public sealed class OutboundConnectorTests(OutboundConnectorTests.Factory factory) : IClassFixture<OutboundConnectorTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public ConcurrentDictionary<string, IPAddress[]> Names { get; } = new(StringComparer.OrdinalIgnoreCase);

        public Factory()
        {
            Settings["Integrations:AttemptTimeoutSeconds"] = "1";
            TestServices = services => services.AddSingleton<IOutboundResolver>(new TableResolver(Names));
        }
    }

    private sealed class TableResolver(ConcurrentDictionary<string, IPAddress[]> names) : IOutboundResolver
    {
        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
            names.TryGetValue(host, out var addresses) ? Task.FromResult(addresses) : throw new SocketException((int)SocketError.HostNotFound);
    }

    private async Task<JsonElement> TestAsync(TestUser owner, Guid orgId, Guid integrationId)
    {
        var response = await owner.Client.PostAsync($"/api/v1/orgs/{orgId}/integrations/{integrationId}/test", null);
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Theory]
    [InlineData("10.0.0.5")]
    [InlineData("169.254.169.254")]
    [InlineData("127.0.0.2")]
    [InlineData("::1")]
    [InlineData("::ffff:192.168.0.10")]
    [InlineData("100.64.1.1")]
    public async Task A_name_resolving_to_a_refused_address_is_refused_when_saved(string address)
    {
        var host = $"n{Guid.NewGuid():N}.hooks.example";
        factory.Names[host] = [IPAddress.Parse(address)];
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        var response = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations", new { kind = "webhook", name = "n", url = $"http://{host}/hook" });

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("may not reach", problem.GetProperty("errors").GetProperty("url")[0].GetString());
    }

    [Fact]
    public async Task A_url_saved_while_public_is_refused_at_connect_time_once_it_resolves_privately()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var host = $"rebind{Guid.NewGuid():N}.hooks.example";
        factory.Names[host] = [IPAddress.Parse("127.0.0.1")]; // allowed in tests: stands for a public address
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url().Replace("127.0.0.1", host));
        Assert.Equal("delivered", (await TestAsync(owner, orgId, integration.Id)).GetProperty("result").GetString());

        // The record now answers a metadata address, or a mix of public and private: every connection is judged anew.
        foreach (var answer in new[] { new[] { IPAddress.Parse("169.254.169.254") }, [IPAddress.Parse("127.0.0.1"), IPAddress.Parse("10.0.0.7")] })
        {
            factory.Names[host] = [IPAddress.Parse("127.0.0.1")];
            var hitsBefore = receiver.Hits.Count;
            // A new port forces a new connection: a pooled one stays with the address judged when it opened.
            var saved = await owner.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/integrations/{integration.Id}", new { url = receiver.Url().Replace("127.0.0.1", host).Replace($":{new Uri(receiver.Url()).Port}", $":{ServiceProcess.FreePort()}") });
            await Identity.EnsureAsync(saved, HttpStatusCode.OK);
            factory.Names[host] = answer;

            var result = await TestAsync(owner, orgId, integration.Id);

            Assert.Equal(("failed", "refused_address"), (result.GetProperty("result").GetString(), result.GetProperty("errorClass").GetString()));
            Assert.Equal(hitsBefore, receiver.Hits.Count);
        }
    }

    [Fact]
    public async Task Queued_deliveries_to_a_name_that_turned_private_fail_without_a_connection()
    {
        var host = $"queued{Guid.NewGuid():N}.hooks.example";
        factory.Names[host] = [IPAddress.Parse("127.0.0.1")];
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, $"http://{host}:{ServiceProcess.FreePort()}/hook");
        factory.Names[host] = [IPAddress.Parse("192.168.1.20")];

        var id = (await factory.EnqueueAsync(orgId, integration.Id)).Single();

        var delivery = await owner.WaitForDeliveryAsync(orgId, integration.Id, id, "failed", seconds: 10);
        Assert.Equal("refused_address", delivery.GetProperty("lastErrorClass").GetString());
        Assert.Equal(1, delivery.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task A_name_that_does_not_resolve_is_reported_as_dns()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, "http://nowhere.hooks.example/hook");

        var result = await TestAsync(owner, orgId, integration.Id);

        Assert.Equal(("failed", "dns"), (result.GetProperty("result").GetString(), result.GetProperty("errorClass").GetString()));
    }
}
