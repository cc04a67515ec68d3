namespace Service.Tests.Fixtures;

/// <summary>Reading and making notifications as a client and a slice would.</summary>
public static class Notices
{
    public static async Task<List<JsonElement>> NotificationsAsync(this TestUser user, string query = "")
    {
        var page = await user.Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications{query}");
        return page.GetProperty("items").EnumerateArray().ToList();
    }

    /// <summary>
    /// The user's notifications once one matches (workflow steps queue theirs, numbered moments after the step is
    /// recorded); a timeout if none does within <paramref name="seconds"/>.
    /// </summary>
    public static async Task<List<JsonElement>> WaitForNotificationAsync(this TestUser user, Func<JsonElement, bool> match, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var notifications = await user.NotificationsAsync();
            if (notifications.Any(match)) return notifications;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no matching notification within {seconds} s: {string.Join(", ", notifications)}");
            await Task.Delay(25);
        }
    }

    /// <summary>Notifications through the app's own Notifier (the test-only /test/notify route); their ids, per user in order.</summary>
    public static async Task<List<long>> NotifyAsync(this ServiceFactory factory, Guid userId, int count = 1, string? type = null, Guid? orgId = null, bool publish = true)
    {
        var response = await factory.CreateClient().PostAsJsonAsync("/test/notify", new { userIds = new[] { userId }, count, type, orgId, publish });
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ids").EnumerateArray().Select(i => i.GetInt64()).ToList();
    }
}
