using Service.Tests.Fixtures;

namespace Service.Tests.Features.ApiKeys;

/// <summary>
/// Until event ingest exists, no route accepts a key, so a working key shows as 403 on a members route (known but
/// not permitted), and a dead one as 401 (unknown).
/// </summary>
public sealed class ApiKeyTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private async Task<HttpStatusCode> ProbeAsync(Guid orgId, string key, bool viaHeader = false)
    {
        var client = factory.CreateClient();
        if (viaHeader) client.DefaultRequestHeaders.Add("X-Api-Key", key);
        else client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("ApiKey", key);
        return (await client.GetAsync($"/api/v1/orgs/{orgId}/members")).StatusCode;
    }

    [Fact]
    public async Task A_created_key_is_shown_once_and_authenticates_by_either_header()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        var created = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys", new { name = "build agent" });
        await Identity.EnsureAsync(created, HttpStatusCode.Created);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var key = body.GetProperty("key").GetString()!;
        var prefix = body.GetProperty("prefix").GetString()!;

        Assert.StartsWith("wfk_", key);
        Assert.StartsWith(prefix + "_", key);
        Assert.Equal(["ingest"], body.GetProperty("permissions").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(orgId, key));
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(orgId, key, viaHeader: true));

        var listed = await owner.Client.GetStringAsync($"/api/v1/orgs/{orgId}/api-keys");
        Assert.Contains(prefix, listed);
        Assert.DoesNotContain(key, listed);
        Assert.DoesNotContain(key[(prefix.Length + 1)..], listed);
        var item = JsonDocument.Parse(listed).RootElement.GetProperty("items")[0];
        Assert.NotEqual(JsonValueKind.Null, item.GetProperty("lastUsedAt").ValueKind);
        Assert.Equal(1, await factory.CountAuditAsync("api_key.created", body.GetProperty("id").GetString()));
    }

    [Theory]
    [InlineData("wfk_aaaaaaaaaaaa_not-the-secret-of-any-key-0000000000000")]
    [InlineData("wfk_short")]
    [InlineData("garbage")]
    public async Task Unknown_or_malformed_keys_are_401(string key)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, await ProbeAsync(orgId, key));
    }

    [Fact]
    public async Task A_stored_key_is_only_a_hash()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (id, key) = await owner.CreateApiKeyAsync(orgId);

        await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var command = dataSource.CreateCommand("SELECT row_to_json(k)::text FROM api_keys k WHERE id = $1");
        command.Parameters.AddWithValue(id);
        var row = (string)(await command.ExecuteScalarAsync())!;

        Assert.DoesNotContain(key[("wfk_".Length + 13)..], row); // the secret: everything after "wfk_{12-character prefix}_"
    }

    [Fact]
    public async Task Rotation_without_grace_kills_the_old_secret_at_once()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (id, oldKey) = await owner.CreateApiKeyAsync(orgId);

        var rotated = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys/{id}/rotate", new { });
        await Identity.EnsureAsync(rotated, HttpStatusCode.OK);
        var newKey = (await rotated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;

        Assert.Equal(HttpStatusCode.Unauthorized, await ProbeAsync(orgId, oldKey));
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(orgId, newKey));
        Assert.Equal(1, await factory.CountAuditAsync("api_key.rotated", id.ToString()));
    }

    [Fact]
    public async Task Rotation_with_grace_keeps_both_secrets_until_it_ends()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (id, oldKey) = await owner.CreateApiKeyAsync(orgId);

        var rotated = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys/{id}/rotate", new { gracePeriodSeconds = 2 });
        var body = await rotated.Content.ReadFromJsonAsync<JsonElement>();
        var newKey = body.GetProperty("key").GetString()!;

        Assert.NotEqual(JsonValueKind.Null, body.GetProperty("previousKeyValidUntil").ValueKind);
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(orgId, oldKey));
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(orgId, newKey));
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Equal(HttpStatusCode.Unauthorized, await ProbeAsync(orgId, oldKey));
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(orgId, newKey));
    }

    [Fact]
    public async Task Revocation_is_immediate_idempotent_and_listed()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (id, key) = await owner.CreateApiKeyAsync(orgId);

        Assert.Equal(HttpStatusCode.NoContent, (await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}/api-keys/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}/api-keys/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, await ProbeAsync(orgId, key));
        var item = (await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/api-keys")).GetProperty("items")[0];
        Assert.NotEqual(JsonValueKind.Null, item.GetProperty("revokedAt").ValueKind);
        await (await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys/{id}/rotate", new { })).ProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(1, await factory.CountAuditAsync("api_key.revoked", id.ToString()));
    }

    [Fact]
    public async Task Managing_keys_is_for_admins_and_outsiders_see_nothing()
    {
        var owner = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var outsider = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, member, "member");
        var (id, _) = await owner.CreateApiKeyAsync(orgId);

        await (await member.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys", new { name = "mine" })).ProblemAsync(HttpStatusCode.Forbidden);
        await (await member.Client.GetAsync($"/api/v1/orgs/{orgId}/api-keys")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await outsider.Client.DeleteAsync($"/api/v1/orgs/{orgId}/api-keys/{id}")).ProblemAsync(HttpStatusCode.NotFound);
        var otherOrg = await outsider.CreateOrgAsync();
        await (await outsider.Client.DeleteAsync($"/api/v1/orgs/{otherOrg}/api-keys/{id}")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(8 * 24 * 3600)]
    public async Task Grace_periods_outside_a_week_are_400(int seconds)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (id, _) = await owner.CreateApiKeyAsync(orgId);

        await (await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys/{id}/rotate", new { gracePeriodSeconds = seconds })).ProblemAsync(HttpStatusCode.BadRequest);
    }
}
