using Service.Tests.Fixtures;

namespace Service.Tests.Features.Integrations;

public sealed class CreateIntegrationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private const string HeaderSecret = "Bearer header-secret-5f0c2a";

    [Fact]
    public async Task A_webhook_shows_its_signing_secret_once_and_stores_every_secret_encrypted()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        var created = await owner.CreateWebhookAsync(orgId, "http://127.0.0.1:9/orders?tenant=acme", new Dictionary<string, string> { ["Authorization"] = HeaderSecret });

        var secret = created.SigningSecret!;
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.Equal($"whsec_...{secret[^4..]}", created.Body.GetProperty("secretHint").GetString());
        Assert.Equal("http://127.0.0.1:9/orders?tenant=acme", created.Body.GetProperty("url").GetString());
        Assert.Equal(["Authorization"], created.Body.GetProperty("headerNames").EnumerateArray().Select(h => h.GetString()));

        var fetched = await owner.Client.GetAsync($"/api/v1/orgs/{orgId}/integrations/{created.Id}");
        var fetchedText = await fetched.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, fetched.StatusCode);
        Assert.Equal("\"1\"", fetched.Headers.ETag?.Tag);
        var listed = await owner.Client.GetStringAsync($"/api/v1/orgs/{orgId}/integrations");
        foreach (var shown in new[] { fetchedText, listed })
        {
            Assert.DoesNotContain(secret, shown);
            Assert.DoesNotContain(secret["whsec_".Length..], shown);
            Assert.DoesNotContain("header-secret", shown);
            Assert.Contains(created.Id.ToString(), shown);
        }

        // At rest: neither the signing secret nor the header value is readable in the row or the audit log.
        var stored = await factory.ScalarAsync<byte[]>("SELECT secrets FROM integrations WHERE id = $1", created.Id);
        var storedText = System.Text.Encoding.Latin1.GetString(stored);
        Assert.DoesNotContain("header-secret", storedText);
        Assert.DoesNotContain(secret["whsec_".Length..], storedText);
        var audit = await factory.ScalarAsync<string>("SELECT data::text FROM audit_log WHERE action = 'integration.created' AND target_id = $1", created.Id.ToString());
        Assert.DoesNotContain("header-secret", audit);
        Assert.DoesNotContain(secret["whsec_".Length..], audit);
        Assert.Contains("Authorization", audit);
        Assert.Equal(1, await factory.CountAuditAsync("integration.created", created.Id.ToString()));
        Assert.DoesNotContain(factory.Logs.Lines, line => line.AllText.Contains("header-secret") || line.AllText.Contains(secret["whsec_".Length..]));
    }

    [Fact]
    public async Task A_slack_integration_keeps_its_url_secret_and_shows_a_masked_hint()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        const string url = "http://127.0.0.1:9/services/T000/B000/XXXXsecretpartXXXXa1b2";

        var response = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations", new { kind = "slack", name = "#ops", url });

        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("secretpart", text);
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Equal("http://127.0.0.1:9/...a1b2", body.GetProperty("secretHint").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("url").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("signingSecret").ValueKind);
    }

    public static TheoryData<string, object, string> BadInput()
    {
        var tooMany = Enumerable.Range(0, 21).ToDictionary(i => $"X-H{i}", i => "v");
        return new()
        {
            { "unknown kind", new { kind = "ftp", name = "n", url = "http://127.0.0.1:9/" }, "kind" },
            { "missing kind", new { name = "n", url = "http://127.0.0.1:9/" }, "kind" },
            { "relative URL", new { kind = "webhook", name = "n", url = "/hooks/in" }, "url" },
            { "malformed URL", new { kind = "webhook", name = "n", url = "http//nope" }, "url" },
            { "ftp URL", new { kind = "webhook", name = "n", url = "ftp://127.0.0.1/x" }, "url" },
            { "userinfo", new { kind = "webhook", name = "n", url = "http://user:pw@127.0.0.1:9/" }, "url" },
            { "private address", new { kind = "webhook", name = "n", url = "http://10.1.2.3/hook" }, "url" },
            { "metadata address", new { kind = "webhook", name = "n", url = "http://169.254.169.254/latest/meta-data" }, "url" },
            { "loopback v6", new { kind = "webhook", name = "n", url = "http://[::1]:9/hook" }, "url" },
            { "mapped loopback", new { kind = "webhook", name = "n", url = "http://[::ffff:127.0.0.2]:9/hook" }, "url" },
            { "header name not a token", new { kind = "webhook", name = "n", url = "http://127.0.0.1:9/", headers = new Dictionary<string, string> { ["X Bad"] = "v" } }, "headers.X Bad" },
            { "CR/LF in a header value", new { kind = "webhook", name = "n", url = "http://127.0.0.1:9/", headers = new Dictionary<string, string> { ["X-Token"] = "a\r\nInjected: 1" } }, "headers.X-Token" },
            { "reserved header", new { kind = "webhook", name = "n", url = "http://127.0.0.1:9/", headers = new Dictionary<string, string> { ["webhook-signature"] = "v1,forged" } }, "headers.webhook-signature" },
            { "more than 20 headers", new { kind = "webhook", name = "n", url = "http://127.0.0.1:9/", headers = tooMany }, "headers" },
            { "secret over 4 KiB", new { kind = "webhook", name = "n", url = "http://127.0.0.1:9/", headers = new Dictionary<string, string> { ["Authorization"] = new string('s', 4097) } }, "headers.Authorization" },
            { "slack with headers", new { kind = "slack", name = "n", url = "http://127.0.0.1:9/", headers = new Dictionary<string, string> { ["X-A"] = "b" } }, "headers" },
            { "empty name", new { kind = "webhook", name = "", url = "http://127.0.0.1:9/" }, "name" },
        };
    }

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task Bad_input_is_a_400_with_field_errors_and_stores_nothing(string because, object request, string field)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        var response = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations", request);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{because}: {problem}");
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM integrations WHERE org_id = $1", orgId));
    }

    [Fact]
    public async Task Members_read_but_only_admins_create_and_strangers_see_nothing()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var member = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, member, "member");
        var stranger = await factory.SignUpAsync();
        var created = await owner.CreateWebhookAsync(orgId, "http://127.0.0.1:9/");

        var byMember = await member.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations", new { kind = "webhook", name = "n", url = "http://127.0.0.1:9/" });
        Assert.Equal(HttpStatusCode.Forbidden, byMember.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await member.Client.GetAsync($"/api/v1/orgs/{orgId}/integrations/{created.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Client.GetAsync($"/api/v1/orgs/{orgId}/integrations/{created.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Client.GetAsync($"/api/v1/orgs/{orgId}/integrations")).StatusCode);
    }
}
