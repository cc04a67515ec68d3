using Service.Tests.Fixtures;

namespace Service.Tests.Features.ApiKeys;

/// <summary>Creating, rotating and revoking a key tells the organization's other admins and owners, never the key.</summary>
public sealed class ApiKeyNotificationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Other_admins_hear_of_each_key_change_and_members_do_not()
    {
        var owner = await factory.SignUpAsync();
        var admin = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Globex");
        await owner.AddMemberAsync(orgId, admin, "admin");
        await owner.AddMemberAsync(orgId, member, "member");

        var (keyId, key) = await owner.CreateApiKeyAsync(orgId, "build agent");
        await Identity.EnsureAsync(await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys/{keyId}/rotate", new { }), HttpStatusCode.OK);
        await Identity.EnsureAsync(await admin.Client.DeleteAsync($"/api/v1/orgs/{orgId}/api-keys/{keyId}"), HttpStatusCode.NoContent);
        await Identity.EnsureAsync(await admin.Client.DeleteAsync($"/api/v1/orgs/{orgId}/api-keys/{keyId}"), HttpStatusCode.NoContent); // idempotent: no second notice

        var heardByAdmin = (await admin.NotificationsAsync()).Where(n => n.GetProperty("type").GetString()!.StartsWith("api_key.")).ToList();
        Assert.Equal(["api_key.rotated", "api_key.created"], heardByAdmin.Select(n => n.GetProperty("type").GetString()));
        Assert.All(heardByAdmin, n => Assert.Equal(orgId, n.GetProperty("orgId").GetGuid()));
        Assert.Contains("build agent", heardByAdmin[0].GetProperty("title").GetString());
        Assert.Contains(owner.Email, heardByAdmin[0].GetProperty("body").GetString());
        // The owner hears of the revocation the admin made, not of their own changes.
        var heardByOwner = (await owner.NotificationsAsync("?type=api_key.revoked")).Single();
        Assert.Equal(keyId, heardByOwner.GetProperty("data").GetProperty("keyId").GetGuid());
        Assert.Empty(await owner.NotificationsAsync("?type=api_key.created"));
        Assert.DoesNotContain(await member.NotificationsAsync(), n => n.GetProperty("type").GetString()!.StartsWith("api_key."));
        var everything = await admin.Client.GetStringAsync("/api/v1/notifications") + await owner.Client.GetStringAsync("/api/v1/notifications");
        Assert.DoesNotContain(key[(key.IndexOf('_', 4) + 1)..], everything);
    }
}
