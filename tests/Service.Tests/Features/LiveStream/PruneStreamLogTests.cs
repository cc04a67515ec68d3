using Npgsql;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.LiveStream;

public sealed class PruneStreamLogTests(PruneStreamLogTests.Factory factory) : IClassFixture<PruneStreamLogTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory() => Settings["Stream:RetentionIntervalSeconds"] = "10";
    }

    private async Task<long> ScalarAsync(string sql, Guid userId)
    {
        await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Events_past_the_replay_window_and_expired_tickets_are_deleted_and_the_rest_kept()
    {
        var user = await factory.SignUpAsync();
        var ids = await factory.NotifyAsync(user.Id, count: 3);
        await Identity.EnsureAsync(await user.Client.PostAsync("/api/v1/stream/tickets", null), HttpStatusCode.OK);
        await Identity.EnsureAsync(await user.Client.PostAsync("/api/v1/stream/tickets", null), HttpStatusCode.OK);
        await ScalarAsync($"UPDATE stream_events SET created_at = now() - interval '26 hours' WHERE user_id = $1 AND seq < {ids[2]}", user.Id);
        await ScalarAsync("UPDATE stream_tickets SET expires_at = now() - interval '1 minute' WHERE ctid = (SELECT ctid FROM stream_tickets WHERE user_id = $1 LIMIT 1)", user.Id);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await ScalarAsync("SELECT count(*) FROM stream_events WHERE user_id = $1", user.Id) > 1 && DateTime.UtcNow < deadline) await Task.Delay(500);

        Assert.Equal(ids[2], await ScalarAsync("SELECT max(seq) FROM stream_events WHERE user_id = $1 HAVING count(*) = 1", user.Id));
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM stream_tickets WHERE user_id = $1", user.Id));
        // The notifications themselves follow their own retention, not the stream's.
        Assert.Equal(3, (await user.NotificationsAsync()).Count);
    }
}
