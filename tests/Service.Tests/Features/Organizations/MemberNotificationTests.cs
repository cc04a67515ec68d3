using Service.Tests.Fixtures;

namespace Service.Tests.Features.Organizations;

/// <summary>A user hears when they are added to an organization, when their role changes and when they are removed.</summary>
public sealed class MemberNotificationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Added_role_changed_and_removed_each_reach_the_member_and_nobody_else()
    {
        var owner = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Initech");

        await owner.AddMemberAsync(orgId, member, "member");
        await Identity.EnsureAsync(await owner.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/members/{member.Id}", new { role = "admin" }), HttpStatusCode.OK);
        await Identity.EnsureAsync(await owner.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}/members/{member.Id}", new { role = "admin" }), HttpStatusCode.OK); // unchanged: no notice
        await Identity.EnsureAsync(await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{member.Id}"), HttpStatusCode.NoContent);

        var notices = await member.NotificationsAsync();
        Assert.Equal(["membership.removed", "membership.role_changed", "membership.added"], notices.Select(n => n.GetProperty("type").GetString()));
        Assert.All(notices, n => Assert.Equal(orgId, n.GetProperty("orgId").GetGuid()));
        Assert.Equal("You were added to Initech", notices[2].GetProperty("title").GetString());
        Assert.Equal("You are now a member of Initech.", notices[2].GetProperty("body").GetString());
        Assert.Equal("admin", notices[1].GetProperty("data").GetProperty("to").GetString());
        Assert.Equal("You were removed from Initech", notices[0].GetProperty("title").GetString());
        Assert.True(notices[0].GetProperty("id").GetInt64() > notices[1].GetProperty("id").GetInt64());
        Assert.Empty(await owner.NotificationsAsync("?type=membership.added"));
    }

    [Fact]
    public async Task Deleting_an_organization_tells_the_other_members_and_their_streams_stop_carrying_it()
    {
        var owner = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Vandelay");
        await owner.AddMemberAsync(orgId, member, "member");
        await using var stream = await SseClient.OpenAsync(member.Client);
        await Identity.EnsureAsync(await factory.CreateClient().PostAsync($"/test/orgs/{orgId}/org-event", null), HttpStatusCode.OK);
        Assert.Equal("run.updated", (await stream.NextAsync(TimeSpan.FromSeconds(5))).Type);

        await Identity.EnsureAsync(await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}"), HttpStatusCode.NoContent);
        await Identity.EnsureAsync(await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}"), HttpStatusCode.NotFound); // gone: no second notice

        var notice = (await stream.NextAsync(TimeSpan.FromSeconds(5))).Json;
        Assert.Equal("membership.removed", notice.GetProperty("type").GetString());
        Assert.Equal("Vandelay was deleted", notice.GetProperty("title").GetString());
        Assert.Contains(owner.Email, notice.GetProperty("body").GetString());
        Assert.Empty(await owner.NotificationsAsync("?type=membership.removed"));
        Assert.Single(await member.NotificationsAsync("?type=membership.removed"));
    }

    [Fact]
    public async Task Leaving_by_oneself_is_not_notified()
    {
        var owner = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, member, "viewer");
        await Identity.EnsureAsync(await member.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{member.Id}"), HttpStatusCode.NoContent);

        Assert.Equal(["membership.added"], (await member.NotificationsAsync()).Select(n => n.GetProperty("type").GetString()));
    }
}
