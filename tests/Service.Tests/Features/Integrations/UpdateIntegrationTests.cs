using Service.Tests.Fixtures;

namespace Service.Tests.Features.Integrations;

public sealed class UpdateIntegrationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task If_match_with_a_stale_etag_is_412_and_changes_nothing()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, "http://127.0.0.1:9/a");
        var path = $"/api/v1/orgs/{orgId}/integrations/{integration.Id}";
        var etag = (await owner.Client.GetAsync(path)).Headers.ETag!.Tag;

        var first = new HttpRequestMessage(HttpMethod.Patch, path) { Content = JsonContent.Create(new { name = "first writer" }) };
        first.Headers.IfMatch.ParseAdd(etag);
        var firstResponse = await owner.Client.SendAsync(first);
        await Identity.EnsureAsync(firstResponse, HttpStatusCode.OK);
        var second = new HttpRequestMessage(HttpMethod.Patch, path) { Content = JsonContent.Create(new { name = "second writer" }) };
        second.Headers.IfMatch.ParseAdd(etag);
        var secondResponse = await owner.Client.SendAsync(second);

        await secondResponse.ProblemAsync(HttpStatusCode.PreconditionFailed);
        Assert.NotEqual(etag, firstResponse.Headers.ETag!.Tag);
        var current = await owner.Client.GetFromJsonAsync<JsonElement>(path);
        Assert.Equal("first writer", current.GetProperty("name").GetString());
        Assert.Equal(2, current.GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task Changing_the_url_keeps_the_signing_secret_and_headers_replace_all_headers()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, "http://127.0.0.1:9/a", new Dictionary<string, string> { ["X-One"] = "1" });
        var path = $"/api/v1/orgs/{orgId}/integrations/{integration.Id}";

        var response = await owner.Client.PatchAsJsonAsync(path, new { url = "http://127.0.0.1:9/b", headers = new Dictionary<string, string> { ["X-Two"] = "2" } });

        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("http://127.0.0.1:9/b", body.GetProperty("url").GetString());
        Assert.Equal(["X-Two"], body.GetProperty("headerNames").EnumerateArray().Select(h => h.GetString()));
        Assert.Equal(integration.Body.GetProperty("secretHint").GetString(), body.GetProperty("secretHint").GetString());
        Assert.Equal(1, await factory.CountAuditAsync("integration.updated", integration.Id.ToString()));

        var bad = await owner.Client.PatchAsJsonAsync(path, new { url = "http://192.168.0.1/x" });
        Assert.True((await bad.ProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("url", out _));
    }
}
