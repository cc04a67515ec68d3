using Service.Tests.Fixtures;

namespace Service.Tests.Features.Notifications;

public sealed class DeleteNotificationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Deleting_removes_one_notification_and_only_its_owner_can()
    {
        var alice = await factory.SignUpAsync();
        var bob = await factory.SignUpAsync();
        var ids = await factory.NotifyAsync(alice.Id, count: 2);

        await (await bob.Client.DeleteAsync($"/api/v1/notifications/{ids[0]}")).ProblemAsync(HttpStatusCode.NotFound);
        await Identity.EnsureAsync(await alice.Client.DeleteAsync($"/api/v1/notifications/{ids[0]}"), HttpStatusCode.NoContent);
        await (await alice.Client.DeleteAsync($"/api/v1/notifications/{ids[0]}")).ProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal([ids[1]], (await alice.NotificationsAsync()).Select(n => n.GetProperty("id").GetInt64()));
    }
}
