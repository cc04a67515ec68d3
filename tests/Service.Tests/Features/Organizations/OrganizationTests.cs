using Service.Tests.Fixtures;

namespace Service.Tests.Features.Organizations;

public sealed class OrganizationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Creator_becomes_owner_and_sees_it_in_list_and_get()
    {
        var owner = await factory.SignUpAsync();

        var created = await owner.Client.PostAsJsonAsync("/api/v1/orgs", new { name = "  Acme  " });
        await Identity.EnsureAsync(created, HttpStatusCode.Created);
        var org = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = org.GetProperty("id").GetGuid();

        Assert.Equal("Acme", org.GetProperty("name").GetString());
        Assert.Equal("owner", org.GetProperty("role").GetString());
        Assert.Equal($"/api/v1/orgs/{id}", created.Headers.Location?.OriginalString);
        var list = await owner.Client.GetFromJsonAsync<JsonElement>("/api/v1/orgs");
        Assert.Contains(list.GetProperty("items").EnumerateArray(), o => o.GetProperty("id").GetGuid() == id);
        Assert.Equal("Acme", (await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{id}")).GetProperty("name").GetString());
        Assert.Equal(1, await factory.CountAuditAsync("org.created", id.ToString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public async Task A_blank_name_is_400(string? name)
    {
        var owner = await factory.SignUpAsync();

        var problem = await (await owner.Client.PostAsJsonAsync("/api/v1/orgs", new { name })).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("name", out _), problem.ToString());
    }

    [Fact]
    public async Task Admins_rename_members_cannot_and_outsiders_see_nothing()
    {
        var owner = await factory.SignUpAsync();
        var admin = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var outsider = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, admin, "admin");
        await owner.AddMemberAsync(orgId, member, "member");

        var byAdmin = await admin.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}", new { name = "Renamed" });
        var byMember = await member.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}", new { name = "Nope" });
        var byOutsider = await outsider.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}", new { name = "Nope" });

        Assert.Equal("Renamed", (await byAdmin.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("name").GetString());
        await byMember.ProblemAsync(HttpStatusCode.Forbidden);
        await byOutsider.ProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NotFound, (await outsider.Client.GetAsync($"/api/v1/orgs/{orgId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await outsider.Client.GetAsync($"/api/v1/orgs/{Guid.NewGuid()}")).StatusCode);
    }

    [Fact]
    public async Task Only_owners_delete_and_a_deleted_organization_is_gone_everywhere()
    {
        var owner = await factory.SignUpAsync();
        var admin = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, admin, "admin");
        var (_, key) = await owner.CreateApiKeyAsync(orgId);

        await (await admin.Client.DeleteAsync($"/api/v1/orgs/{orgId}")).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await owner.Client.GetAsync($"/api/v1/orgs/{orgId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.Client.GetAsync($"/api/v1/orgs/{orgId}/members")).StatusCode);
        Assert.DoesNotContain((await owner.Client.GetFromJsonAsync<JsonElement>("/api/v1/orgs")).GetProperty("items").EnumerateArray(),
            o => o.GetProperty("id").GetGuid() == orgId);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.ClientWithApiKey(key).GetAsync($"/api/v1/orgs/{orgId}/members")).StatusCode);
    }
}

public sealed class MemberTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private async Task<(TestUser Owner, Guid OrgId)> OrgAsync()
    {
        var owner = await factory.SignUpAsync();
        return (owner, await owner.CreateOrgAsync());
    }

    [Fact]
    public async Task Admins_add_existing_users_by_email_and_everyone_in_the_org_can_list_them()
    {
        var (owner, orgId) = await OrgAsync();
        var admin = await factory.SignUpAsync();
        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, admin, "admin");

        var added = await admin.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/members", new { email = viewer.Email.ToUpperInvariant(), role = "viewer" });
        await Identity.EnsureAsync(added, HttpStatusCode.Created);

        var members = await viewer.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/members");
        var roles = members.GetProperty("items").EnumerateArray().ToDictionary(m => m.GetProperty("userId").GetGuid(), m => m.GetProperty("role").GetString());
        Assert.Equal("owner", roles[owner.Id]);
        Assert.Equal("admin", roles[admin.Id]);
        Assert.Equal("viewer", roles[viewer.Id]);
        Assert.Equal(1, await factory.CountAuditAsync("member.added", viewer.Id.ToString()));
    }

    [Fact]
    public async Task Adding_an_unknown_email_is_404_a_duplicate_409_and_a_bad_role_400()
    {
        var (owner, orgId) = await OrgAsync();
        var member = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, member, "member");

        await (await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/members", new { email = Identity.NewEmail("ghost"), role = "member" })).ProblemAsync(HttpStatusCode.NotFound);
        await (await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/members", new { email = member.Email, role = "admin" })).ProblemAsync(HttpStatusCode.Conflict);
        var badRole = await (await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/members", new { email = member.Email, role = "superuser" })).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(badRole.GetProperty("errors").TryGetProperty("role", out _));
    }

    [Fact]
    public async Task Admins_cannot_grant_or_change_the_owner_role_but_owners_can()
    {
        var (owner, orgId) = await OrgAsync();
        var admin = await factory.SignUpAsync();
        var candidate = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, admin, "admin");
        await owner.AddMemberAsync(orgId, candidate, "member");

        await (await admin.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/members/{candidate.Id}", new { role = "owner" })).ProblemAsync(HttpStatusCode.Forbidden);
        await (await admin.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/members/{owner.Id}", new { role = "member" })).ProblemAsync(HttpStatusCode.Forbidden);
        await (await admin.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/members", new { email = (await factory.SignUpAsync()).Email, role = "owner" })).ProblemAsync(HttpStatusCode.Forbidden);

        var promoted = await owner.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/members/{candidate.Id}", new { role = "owner" });
        Assert.Equal("owner", (await promoted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("role").GetString());
        Assert.Equal(1, await factory.CountAuditAsync("member.role_changed", candidate.Id.ToString()));
    }

    [Fact]
    public async Task The_last_owner_can_be_neither_demoted_nor_removed()
    {
        var (owner, orgId) = await OrgAsync();

        var demote = await owner.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/members/{owner.Id}", new { role = "admin" });
        var leave = await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{owner.Id}");

        Assert.Equal("Last owner", (await demote.ProblemAsync(HttpStatusCode.Conflict)).GetProperty("title").GetString());
        await leave.ProblemAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Members_may_leave_but_only_admins_remove_others_and_only_owners_remove_owners()
    {
        var (owner, orgId) = await OrgAsync();
        var admin = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, admin, "admin");
        await owner.AddMemberAsync(orgId, member, "member");
        await owner.AddMemberAsync(orgId, viewer, "viewer");

        await (await member.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{viewer.Id}")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await admin.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{owner.Id}")).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{member.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await viewer.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{viewer.Id}")).StatusCode);
        await (await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{viewer.Id}")).ProblemAsync(HttpStatusCode.NotFound);

        Assert.Equal(HttpStatusCode.NotFound, (await member.Client.GetAsync($"/api/v1/orgs/{orgId}")).StatusCode);
        Assert.Equal(1, await factory.CountAuditAsync("member.removed", member.Id.ToString()));
        Assert.Equal(1, await factory.CountAuditAsync("member.left", viewer.Id.ToString()));
    }

    [Fact]
    public async Task Two_owners_removing_each_other_at_once_leave_one_owner()
    {
        for (var round = 0; round < 5; round++)
        {
            var (first, orgId) = await OrgAsync();
            var second = await factory.SignUpAsync();
            await first.AddMemberAsync(orgId, second, "owner");

            var results = await Task.WhenAll(
                first.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{second.Id}"),
                second.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{first.Id}"));

            Assert.Equal(1, results.Count(r => r.StatusCode == HttpStatusCode.NoContent));
            await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
            await using var command = dataSource.CreateCommand("SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'");
            command.Parameters.AddWithValue(orgId);
            Assert.Equal(1L, (long)(await command.ExecuteScalarAsync())!);
        }
    }

    [Fact]
    public async Task Two_owners_demoting_each_other_at_once_leave_one_owner()
    {
        for (var round = 0; round < 5; round++)
        {
            var (first, orgId) = await OrgAsync();
            var second = await factory.SignUpAsync();
            await first.AddMemberAsync(orgId, second, "owner");

            var results = await Task.WhenAll(
                first.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/members/{second.Id}", new { role = "admin" }),
                second.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/members/{first.Id}", new { role = "admin" }));

            Assert.Equal(1, results.Count(r => r.StatusCode == HttpStatusCode.OK));
            var members = await first.Client.GetAsync($"/api/v1/orgs/{orgId}/members");
            var owners = (await members.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Count(m => m.GetProperty("role").GetString() == "owner");
            Assert.Equal(1, owners);
        }
    }
}
