namespace Service.Tests.Fixtures;

/// <summary>Reading and making notifications as a client and a slice would.</summary>
public static class Notices
{
    public static async Task<List<JsonElement>> NotificationsAsync(this TestUser user, string query = "")
    {
        var page = await user.Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications{query}");
        return page.GetProperty("items").EnumerateArray().ToList();
    }

    /// <summary>Notifications through the app's own Notifier (the test-only /test/notify route); their ids, per user in order.</summary>
    public static async Task<List<long>> NotifyAsync(this ServiceFactory factory, Guid userId, int count = 1, string? type = null, Guid? orgId = null, bool publish = true)
    {
        var response = await factory.CreateClient().PostAsJsonAsync("/test/notify", new { userIds = new[] { userId }, count, type, orgId, publish });
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ids").EnumerateArray().Select(i => i.GetInt64()).ToList();
    }
}
