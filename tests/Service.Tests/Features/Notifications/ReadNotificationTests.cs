using Service.Tests.Fixtures;

namespace Service.Tests.Features.Notifications;

public sealed class ReadNotificationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private static async Task<long> UnreadAsync(TestUser user) =>
        (await user.Client.GetFromJsonAsync<JsonElement>("/api/v1/notifications/unread-count")).GetProperty("count").GetInt64();

    [Fact]
    public async Task Reading_marks_one_notification_once_and_the_count_follows()
    {
        var user = await factory.SignUpAsync();
        var ids = await factory.NotifyAsync(user.Id, count: 3);
        Assert.Equal(3, await UnreadAsync(user));

        var first = await user.Client.PostAsync($"/api/v1/notifications/{ids[1]}/read", null);
        await Identity.EnsureAsync(first, HttpStatusCode.OK);
        var readAt = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("readAt").GetDateTimeOffset();
        await Task.Delay(20);
        var again = await (await user.Client.PostAsync($"/api/v1/notifications/{ids[1]}/read", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(readAt, again.GetProperty("readAt").GetDateTimeOffset());
        Assert.Equal(2, await UnreadAsync(user));
    }

    [Fact]
    public async Task Unknown_and_other_users_notifications_are_404()
    {
        var alice = await factory.SignUpAsync();
        var bob = await factory.SignUpAsync();
        var ids = await factory.NotifyAsync(alice.Id);
        await (await bob.Client.PostAsync($"/api/v1/notifications/{ids[0]}/read", null)).ProblemAsync(HttpStatusCode.NotFound);
        await (await alice.Client.PostAsync("/api/v1/notifications/999999/read", null)).ProblemAsync(HttpStatusCode.NotFound);
        await (await alice.Client.PostAsync("/api/v1/notifications/abc/read", null)).ProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(1, await UnreadAsync(alice));
    }
}
