using Microsoft.Extensions.DependencyInjection;
using Service.Infrastructure.Settings;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.FeatureFlags;

/// <summary>Where a flag's value comes from: configuration override, then database, then the safe default.</summary>
public sealed class FeatureFlagSourceTests(OperatorServiceFactory factory) : IClassFixture<OperatorServiceFactory>
{
    private async Task WriteRowAsync(string name, bool enabled)
    {
        await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var command = dataSource.CreateCommand("""
            INSERT INTO feature_flags (name, enabled, updated_by, reason) VALUES ($1, $2, 'test', 'set by the test')
            ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = now()
            """);
        command.Parameters.AddWithValue(name);
        command.Parameters.AddWithValue(enabled);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<JsonElement> FlagsAsync(ServiceFactory instance, TestUser ops) =>
        await instance.ClientWithToken(ops.AccessToken).GetFromJsonAsync<JsonElement>("/api/v1/admin/features");

    private static JsonElement Flag(JsonElement list, string name) =>
        list.GetProperty("items").EnumerateArray().Single(f => f.GetProperty("name").GetString() == name);

    [Fact]
    public async Task An_empty_table_means_every_flag_has_its_safe_default()
    {
        var fresh = new OperatorServiceFactory(); // a database of its own: this class's other tests write rows
        await fresh.InitializeAsync();
        try
        {
            await using (var dataSource = TestDatabases.OpenDataSource(fresh.DatabaseName))
            {
                await using var count = dataSource.CreateCommand("SELECT count(*) FROM feature_flags");
                Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
            }

            var list = await FlagsAsync(fresh, await fresh.OperatorAsync());
            Assert.NotEqual(JsonValueKind.Null, list.GetProperty("loadedAt").ValueKind);
            Assert.All(list.GetProperty("items").EnumerateArray(), flag =>
            {
                Assert.Equal("default", flag.GetProperty("source").GetString());
                Assert.Equal(flag.GetProperty("safeDefault").GetBoolean(), flag.GetProperty("enabled").GetBoolean());
                Assert.Equal(JsonValueKind.Null, flag.GetProperty("lastChange").ValueKind);
            });
            Assert.True(Flag(list, "Suggestions").GetProperty("enabled").GetBoolean());
            Assert.True(Flag(list, "EventIngest").GetProperty("enabled").GetBoolean());
        }
        finally
        {
            await ((IAsyncLifetime)fresh).DisposeAsync();
        }
    }

    [Fact]
    public async Task A_configuration_override_wins_over_the_database_either_way()
    {
        var ops = await factory.OperatorAsync();
        await WriteRowAsync("Workflows", false);
        await WriteRowAsync("Uploads", true);
        await using var overridden = await factory.AnotherInstanceAsync();
        overridden.Settings["FeatureFlags:Overrides:Workflows"] = "true";
        overridden.Settings["FeatureFlags:Overrides:Uploads"] = "False";

        Assert.Equal(HttpStatusCode.OK, (await overridden.CreateClient().GetAsync("/test/kill-switch")).StatusCode);
        var list = await FlagsAsync(overridden, ops);
        var workflows = Flag(list, "Workflows");
        Assert.Equal("override", workflows.GetProperty("source").GetString());
        Assert.True(workflows.GetProperty("enabled").GetBoolean());
        Assert.False(workflows.GetProperty("lastChange").GetProperty("enabled").GetBoolean()); // what the database says, overridden
        var uploads = Flag(list, "Uploads");
        Assert.Equal("override", uploads.GetProperty("source").GetString());
        Assert.False(uploads.GetProperty("enabled").GetBoolean());

        // A change through the API is stored and announced, but the override still decides on that instance.
        var response = await ops.Client.PutAsJsonAsync("/api/v1/admin/features/Workflows", new { enabled = false, reason = "override test" });
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        await Task.Delay(300);
        Assert.Equal(HttpStatusCode.OK, (await overridden.CreateClient().GetAsync("/test/kill-switch")).StatusCode);
        await (await factory.CreateClient().GetAsync("/test/kill-switch")).ProblemAsync(HttpStatusCode.ServiceUnavailable);
        await WriteRowAsync("Workflows", true);
    }

    [Fact]
    public async Task Database_unreachable_at_startup_means_safe_defaults_until_it_answers()
    {
        var ops = await factory.OperatorAsync();
        await WriteRowAsync("Workflows", false);
        var postgres = new Uri(TestServers.PostgresAdminUrl);
        await using var proxy = new TcpProxy(postgres.Host, postgres.Port);
        await using var instance = await factory.AnotherInstanceAsync();
        instance.Settings["Database:Url"] = $"postgres://postgres@127.0.0.1:{proxy.Port}/{factory.DatabaseName}";
        instance.Settings["Database:ConnectTimeoutSeconds"] = "5"; // the startup check must get through on a loaded machine; once cut, connections are refused at once
        instance.Settings["FeatureFlags:PollIntervalSeconds"] = "1";
        // The migration check must reach the database to let the instance start; the flags load right after must not.
        instance.TestServices = services => services.AddSingleton<IStartupCheck>(new CutAfterMigrationCheck(proxy));
        try
        {
            var client = instance.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/test/kill-switch")).StatusCode);
            var workflows = Flag(await FlagsAsync(instance, ops), "Workflows");
            Assert.Equal("default", workflows.GetProperty("source").GetString());
            Assert.Equal(JsonValueKind.Null, (await FlagsAsync(instance, ops)).GetProperty("loadedAt").ValueKind);

            proxy.Restore();
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while ((await client.GetAsync("/test/kill-switch")).StatusCode != HttpStatusCode.ServiceUnavailable)
            {
                Assert.True(DateTime.UtcNow < deadline, "the instance did not load the database's value after it came back");
                await Task.Delay(50);
            }
            Assert.Equal("database", Flag(await FlagsAsync(instance, ops), "Workflows").GetProperty("source").GetString());
        }
        finally
        {
            await WriteRowAsync("Workflows", true);
        }
    }

    private sealed class CutAfterMigrationCheck(TcpProxy proxy) : IStartupCheck
    {
        public Task<IReadOnlyList<StartupProblem>> CheckAsync(CancellationToken cancellationToken)
        {
            proxy.Cut();
            return Task.FromResult<IReadOnlyList<StartupProblem>>([]);
        }
    }

    [Theory]
    [InlineData("FeatureFlags:Overrides:NoSuchFlag", "false", "names no feature flag")]
    [InlineData("FeatureFlags:Overrides:Uploads", "off", "must be true or false")]
    [InlineData("FeatureFlags:PollIntervalSeconds", "0", "FeatureFlags:PollIntervalSeconds")]
    public async Task A_bad_flag_setting_refuses_to_start(string key, string value, string expected)
    {
        await using var instance = await factory.AnotherInstanceAsync();
        instance.Settings[key] = value;
        var thrown = Record.Exception(() => instance.CreateClient());
        var refused = StartupRefusedException.Find(thrown)
            ?? instance.Logs.Lines.Select(l => StartupRefusedException.Find(l.ExceptionObject)).FirstOrDefault(r => r is not null);
        Assert.NotNull(refused);
        Assert.Contains(expected, refused.Message);
        Assert.Contains(key.Split(':')[^1], refused.Message);
    }
}
