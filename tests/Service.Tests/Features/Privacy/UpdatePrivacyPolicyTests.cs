using System.Net.Http.Headers;
using System.Text;
using Dapper;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Privacy;

/// <summary>GET and PUT of an organization's privacy policy: defaults, roles, validation, audit.</summary>
public sealed class UpdatePrivacyPolicyTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    public static string Url(Guid orgId) => $"/api/v1/orgs/{orgId}/privacy";

    public static object Body(string pathMode = "home", bool hashFileNames = false, string[]? excludeGlobs = null, string[]? dropMetadataKeys = null, int? retentionDays = 30,
        string departedUserEvents = "delete") =>
        new { pathMode, hashFileNames, excludeGlobs = excludeGlobs ?? ["**/.ssh/**"], dropMetadataKeys = dropMetadataKeys ?? ["password", "token"], retentionDays, departedUserEvents };

    [Fact]
    public async Task An_organization_starts_with_the_defaults_and_an_admin_replaces_them_with_an_audited_change_that_applies_to_new_events()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        var initial = await owner.Client.GetFromJsonAsync<JsonElement>(Url(orgId));
        Assert.Equal("keep", initial.GetProperty("pathMode").GetString());
        Assert.Contains("**/.ssh/**", initial.GetProperty("excludeGlobs").EnumerateArray().Select(g => g.GetString()));
        Assert.Contains("password", initial.GetProperty("dropMetadataKeys").EnumerateArray().Select(g => g.GetString()));
        Assert.Equal(0, initial.GetProperty("version").GetInt32());
        Assert.Equal(90, initial.GetProperty("effectiveRetentionDays").GetInt32());

        var put = await owner.Client.PutAsJsonAsync(Url(orgId), Body());
        await Identity.EnsureAsync(put, HttpStatusCode.OK);
        var updated = await put.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("home", updated.GetProperty("pathMode").GetString());
        Assert.Equal(30, updated.GetProperty("effectiveRetentionDays").GetInt32());
        Assert.Equal(1, updated.GetProperty("version").GetInt32());
        Assert.Contains("events received from", updated.GetProperty("appliesTo").GetString());
        Assert.Equal(["**/.ssh/**"], updated.GetProperty("excludeGlobs").EnumerateArray().Select(g => g.GetString()!).ToArray());

        await Identity.EnsureAsync(await owner.Client.PutAsJsonAsync(Url(orgId), Body("hash_dirs", hashFileNames: true)), HttpStatusCode.OK);
        var again = await owner.Client.GetFromJsonAsync<JsonElement>(Url(orgId));
        Assert.Equal("hash_dirs", again.GetProperty("pathMode").GetString());
        Assert.True(again.GetProperty("hashFileNames").GetBoolean());
        Assert.Equal(2, again.GetProperty("version").GetInt32());

        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await db.OpenConnectionAsync();
        var audit = (await connection.QueryAsync<(string Actor, string Data)>(
            "SELECT actor_id, data::text FROM audit_log WHERE org_id = @orgId AND action = 'privacy.updated' ORDER BY id", new { orgId })).ToList();
        Assert.Equal(2, audit.Count);
        Assert.All(audit, a => Assert.Equal(owner.Id.ToString(), a.Actor));
        var second = JsonDocument.Parse(audit[1].Data).RootElement;
        Assert.Equal("home", second.GetProperty("before").GetProperty("pathMode").GetString());
        Assert.Equal("hash_dirs", second.GetProperty("after").GetProperty("pathMode").GetString());
        // The organization's key is stored sealed and never shown.
        Assert.DoesNotContain("key", again.EnumerateObject().Select(p => p.Name), StringComparer.OrdinalIgnoreCase);
        Assert.DoesNotContain("pathKey", audit[1].Data);
    }

    [Fact]
    public async Task Members_read_viewers_and_members_cannot_write_and_other_tenants_see_nothing()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var member = await factory.SignUpAsync();
        var viewer = await factory.SignUpAsync();
        var stranger = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, member, "member");
        await owner.AddMemberAsync(orgId, viewer, "viewer");

        await Identity.EnsureAsync(await member.Client.GetAsync(Url(orgId)), HttpStatusCode.OK);
        await (await viewer.Client.GetAsync(Url(orgId))).ProblemAsync(HttpStatusCode.Forbidden);
        await (await member.Client.PutAsJsonAsync(Url(orgId), Body())).ProblemAsync(HttpStatusCode.Forbidden);
        await (await stranger.Client.GetAsync(Url(orgId))).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.Client.PutAsJsonAsync(Url(orgId), Body())).ProblemAsync(HttpStatusCode.NotFound);
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { """{"pathMode":"obscure"}""", "pathMode" },
        { """{"hashFileNames":true}""", "pathMode" },
        { """{"pathMode":"home","retentionDays":91}""", "retentionDays" },
        { """{"pathMode":"home","retentionDays":0}""", "retentionDays" },
        { """{"pathMode":"home","excludeGlobs":["**/.ssh/**","**/[ab]"]}""", "excludeGlobs[1]" },
        { """{"pathMode":"home","excludeGlobs":["a**b"]}""", "excludeGlobs[0]" },
        { """{"pathMode":"home","excludeGlobs":[""]}""", "excludeGlobs[0]" },
        { """{"pathMode":"home","dropMetadataKeys":["pass word"]}""", "dropMetadataKeys[0]" },
        { """{"pathMode":"home","departedUserEvents":"keep"}""", "departedUserEvents" },
        { """{"pathMode":"home","hashFileNames":"yes"}""", "hashFileNames" },
        { """{"pathMode":"home","retentionDays":1e99}""", "retentionDays" },
        { """{"pathMode":"home","excludeGlobs":"**/.ssh/**"}""", "excludeGlobs" },
        { """[1,2]""", "body" },
        { """{"pathMode":""", "body" },
        { """null""", "body" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task Invalid_policies_are_refused_with_the_field_named(string json, string field)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var response = await owner.Client.PutAsync(Url(orgId), new StringContent(json, Encoding.UTF8, "application/json"));
        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(0, (await owner.Client.GetFromJsonAsync<JsonElement>(Url(orgId))).GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task A_body_over_64_KiB_or_too_many_globs_is_a_field_error_and_a_body_that_is_not_JSON_is_415()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var huge = await owner.Client.PutAsJsonAsync(Url(orgId), Body(excludeGlobs: Enumerable.Range(0, 200).Select(i => $"**/{new string('x', 400)}{i}/**").ToArray()));
        Assert.True((await huge.ProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("body", out _));
        var chunked = new StringContent(JsonSerializer.Serialize(Body(excludeGlobs: [.. Enumerable.Range(0, 100).Select(i => $"**/{new string('y', 700)}/**")])), Encoding.UTF8, "application/json");
        chunked.Headers.ContentLength = null;
        var request = new HttpRequestMessage(HttpMethod.Put, Url(orgId)) { Content = new StreamContent(await chunked.ReadAsStreamAsync()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;
        Assert.True((await (await owner.Client.SendAsync(request)).ProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("body", out _));
        var many = await owner.Client.PutAsJsonAsync(Url(orgId), Body(excludeGlobs: Enumerable.Range(0, 101).Select(i => $"*.x{i}").ToArray()));
        Assert.True((await many.ProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("excludeGlobs", out _));
        await (await owner.Client.PutAsync(Url(orgId), new StringContent("pathMode=home", Encoding.UTF8, "application/x-www-form-urlencoded")))
            .ProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }
}
