using Service.Tests.Fixtures;

namespace Service.Tests.Features.Notifications;

public sealed class ReadAllNotificationsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Marks_up_to_the_newest_seen_and_what_arrives_meanwhile_stays_unread()
    {
        var user = await factory.SignUpAsync();
        var seen = await factory.NotifyAsync(user.Id, count: 3);
        var arrivedMeanwhile = await factory.NotifyAsync(user.Id, count: 2);

        var response = await user.Client.PostAsJsonAsync("/api/v1/notifications/read-all", new { upToId = seen[^1] });
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        Assert.Equal(3, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("marked").GetInt64());
        Assert.Equal(arrivedMeanwhile.AsEnumerable().Reverse(), (await user.NotificationsAsync("?unread=true")).Select(n => n.GetProperty("id").GetInt64()));
        var again = await user.Client.PostAsJsonAsync("/api/v1/notifications/read-all", new { upToId = seen[^1] });
        Assert.Equal(0, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("marked").GetInt64());
    }

    [Fact]
    public async Task An_id_from_the_future_or_no_id_is_a_400_and_marks_nothing()
    {
        var user = await factory.SignUpAsync();
        var ids = await factory.NotifyAsync(user.Id, count: 2);
        var future = await (await user.Client.PostAsJsonAsync("/api/v1/notifications/read-all", new { upToId = ids[^1] + 1 })).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(future.GetProperty("errors").TryGetProperty("upToId", out _));
        await (await user.Client.PostAsJsonAsync("/api/v1/notifications/read-all", new { })).ProblemAsync(HttpStatusCode.BadRequest);
        await (await user.Client.PostAsJsonAsync("/api/v1/notifications/read-all", new { upToId = 0 })).ProblemAsync(HttpStatusCode.BadRequest);
        await (await user.Client.PostAsync("/api/v1/notifications/read-all", new StringContent("{\"upToId\":", System.Text.Encoding.UTF8, "application/json"))).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal(2, (await user.NotificationsAsync("?unread=true")).Count);

        // Another user's numbers are their own: a fresh user has seen nothing yet.
        var stranger = await factory.SignUpAsync();
        await (await stranger.Client.PostAsJsonAsync("/api/v1/notifications/read-all", new { upToId = ids[^1] })).ProblemAsync(HttpStatusCode.BadRequest);
    }
}
