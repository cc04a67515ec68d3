using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Database;

/// <summary>The pool as operators see it (admin API, readiness), with connections of the app's own pool held open.</summary>
public sealed class DatabasePoolTests(DatabasePoolTests.Factory factory) : IClassFixture<DatabasePoolTests.Factory>
{
    public sealed class Factory : OperatorServiceFactory
    {
        public Factory()
        {
            Settings["Database:Pool:MaxSize"] = "10";
            Settings["Health:CacheMilliseconds"] = "0";
        }
    }

    [Fact]
    public async Task The_admin_api_and_readiness_follow_busy_idle_and_waiting_connections()
    {
        var ops = await factory.OperatorAsync();
        var dataSource = factory.Services.GetRequiredService<NpgsqlDataSource>();
        var pool = factory.Services.GetRequiredService<DatabasePool>();

        var before = await ops.Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/db/pool");
        Assert.Equal(10, before.GetProperty("maxSize").GetInt32());
        Assert.Equal(0, before.GetProperty("waiters").GetInt64());
        Assert.StartsWith("workflow-service-", before.GetProperty("poolName").GetString());

        var held = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < 9; i++) held.Add(await dataSource.OpenConnectionAsync());
            var busy = await ops.Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/db/pool");
            Assert.True(busy.GetProperty("busy").GetInt64() >= 9, busy.ToString());
            Assert.True(busy.GetProperty("busyRatio").GetDouble() >= 0.9);

            var ready = await factory.CreateClient().GetAsync("/health/ready");
            var body = await ready.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode); // degraded, still taking traffic
            Assert.Equal("Degraded", body.GetProperty("checks").GetProperty("database_pool").GetProperty("status").GetString());
            Assert.Equal("Degraded", body.GetProperty("status").GetString());

            held.Add(await dataSource.OpenConnectionAsync());
            var waiting = dataSource.OpenConnectionAsync().AsTask();
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (pool.Read().Waiters < 1 && DateTime.UtcNow < deadline) await Task.Delay(20);
            var full = pool.Read();
            Assert.Equal((10, 0, 1), (full.Busy, full.Idle, full.Waiters));
            held[0].Dispose();
            held.Add(await waiting);
        }
        finally
        {
            foreach (var connection in held) await connection.DisposeAsync();
        }

        var after = pool.Read();
        Assert.Equal((0, 0), (after.Busy, after.Waiters));
        Assert.True(after.Idle >= 10);
    }

    [Fact]
    public async Task Only_operators_read_the_pool()
    {
        var user = await factory.SignUpAsync();
        await (await user.Client.GetAsync("/api/v1/admin/db/pool")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await factory.CreateClient().GetAsync("/api/v1/admin/db/pool")).ProblemAsync(HttpStatusCode.Unauthorized);
    }
}
