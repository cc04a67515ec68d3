using Npgsql;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Notifications;

public sealed class PruneNotificationsTests(PruneNotificationsTests.Factory factory) : IClassFixture<PruneNotificationsTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Notifications:RetentionDays"] = "30";
            Settings["Notifications:RetentionIntervalSeconds"] = "10";
        }
    }

    [Fact]
    public async Task Notifications_older_than_the_retention_are_deleted_and_newer_ones_kept()
    {
        var user = await factory.SignUpAsync();
        var ids = await factory.NotifyAsync(user.Id, count: 3);
        await using (var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName))
        {
            await using var age = dataSource.CreateCommand("UPDATE notifications SET created_at = now() - interval '31 days' WHERE user_id = $1 AND id < $2");
            age.Parameters.Add(new NpgsqlParameter { Value = user.Id });
            age.Parameters.Add(new NpgsqlParameter { Value = ids[2] });
            Assert.Equal(2, await age.ExecuteNonQueryAsync());
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        List<JsonElement> left;
        while ((left = await user.NotificationsAsync()).Count > 1 && DateTime.UtcNow < deadline) await Task.Delay(500);
        Assert.Equal([ids[2]], left.Select(n => n.GetProperty("id").GetInt64()));
    }
}
