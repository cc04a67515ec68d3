using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Service.Infrastructure.FeatureFlags;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.FeatureFlags;

/// <summary>`features list` and `features set` on the service executable: the same table, audit and announcement as the API.</summary>
public sealed class FeatureFlagCommandTests(FeatureFlagCommandTests.Factory factory) : IClassFixture<FeatureFlagCommandTests.Factory>
{
    public sealed class Factory : OperatorServiceFactory
    {
        public string Channel => BaseSettings()["FeatureFlags:Channel"]!;
    }

    private Dictionary<string, string?> CommandSettings() => new()
    {
        ["Database:Url"] = TestServers.DatabaseUrl(factory.DatabaseName),
        ["Redis:Url"] = TestServers.RedisUrl,
        ["FeatureFlags:Channel"] = factory.Channel,
    };

    private static async Task<(int Exit, string Out, string Err)> RunAsync(Dictionary<string, string?> settings, params string[] args)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = await FeatureFlagCommand.RunAsync(["features", .. args], configuration, output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    private Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => RunAsync(CommandSettings(), args);

    private async Task<JsonElement> AuditAsync(TestUser ops, string flag) =>
        (await ops.Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/audit?action=feature_flag.changed&targetId={flag}")).GetProperty("items")[0];

    [Fact]
    public async Task The_built_executable_sets_a_flag_that_running_instances_obey_within_a_second()
    {
        var ops = await factory.OperatorAsync();
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/test/kill-switch")).StatusCode);
        var environment = new Dictionary<string, string>
        {
            ["ENVIRONMENT"] = "production",
            ["DATABASE_URL"] = TestServers.DatabaseUrl(factory.DatabaseName),
            ["REDIS_URL"] = TestServers.RedisUrl,
            ["FeatureFlags__Channel"] = factory.Channel,
        };

        await using (var set = ServiceProcess.Start(environment, "features", "set", "Workflows", "off", "--reason", "incident 99 from the bastion", "--by", "alice"))
        {
            Assert.Equal(0, await set.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("Workflows: on -> off", set.Stdout);
            Assert.Contains("Announced", set.Stdout);
        }
        var announced = Stopwatch.StartNew();
        while ((await client.GetAsync("/test/kill-switch")).StatusCode != HttpStatusCode.ServiceUnavailable)
        {
            Assert.True(announced.Elapsed < TimeSpan.FromSeconds(1), "the running instance did not obey the CLI within a second");
            await Task.Delay(10);
        }

        var entry = await AuditAsync(ops, "Workflows");
        Assert.Equal("operator", entry.GetProperty("actorType").GetString());
        Assert.Equal("alice", entry.GetProperty("actorId").GetString());
        Assert.Equal("incident 99 from the bastion", entry.GetProperty("data").GetProperty("reason").GetString());

        await using (var list = ServiceProcess.Start(environment, "features", "list"))
        {
            Assert.Equal(0, await list.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Matches(@"Workflows\s+killSwitch\s+off\s+database\s+\S+ \S+\s+cli:alice\s+incident 99 from the bastion", list.Stdout);
            Assert.Matches(@"Suggestions\s+release\s+(off|on|target)\s+(default|database)", list.Stdout);
        }
        Assert.Equal(0, (await RunAsync("set", "Workflows", "on", "--reason", "incident 99 over")).Exit);
    }

    [Fact]
    public async Task Changes_through_the_cli_and_the_api_read_back_identically_through_both()
    {
        var ops = await factory.OperatorAsync();
        var cli = await RunAsync("set", "Suggestions", "on", "--reason", "pilot via cli", "--by", "bob",
            "--targeting", """{"groups":[{"name":"0f8fad5b-d9cb-469f-a165-70867728950e","rolloutPercentage":50}],"defaultRolloutPercentage":5}""");
        Assert.True(cli.Exit == 0, cli.Err);
        var api = await ops.Client.PutAsJsonAsync("/api/v1/admin/features/OutboundWebhooks", new { enabled = false, reason = "vendor outage via api" });
        await Identity.EnsureAsync(api, HttpStatusCode.OK);
        await Task.Delay(200); // the CLI's announcement reaches this instance

        var fromApi = JsonNode.Parse(await ops.Client.GetStringAsync("/api/v1/admin/features"))!["items"]!;
        var listed = await RunAsync("list", "--json");
        Assert.Equal(0, listed.Exit);
        var fromCli = JsonNode.Parse(listed.Out)!["items"]!;
        Assert.True(JsonNode.DeepEquals(fromApi, fromCli), $"API:\n{fromApi}\nCLI:\n{fromCli}");

        // One audit record shape, whoever made the change.
        var byCli = await AuditAsync(ops, "Suggestions");
        var byApi = await AuditAsync(ops, "OutboundWebhooks");
        static string Shape(JsonElement data) => string.Join(",", data.EnumerateObject().Select(p => p.Name).Order()) + "|" +
            string.Join(",", data.GetProperty("old").EnumerateObject().Select(p => p.Name).Order()) + "|" +
            string.Join(",", data.GetProperty("new").EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(Shape(byApi.GetProperty("data")), Shape(byCli.GetProperty("data")));
        Assert.Equal("cli:bob", byCli.GetProperty("data").GetProperty("by").GetString());
        Assert.Equal(5, byCli.GetProperty("data").GetProperty("new").GetProperty("targeting").GetProperty("defaultRolloutPercentage").GetDouble());

        await RunAsync("set", "Suggestions", "off", "--reason", "pilot over");
        await RunAsync("set", "OutboundWebhooks", "on", "--reason", "vendor back");
    }

    [Theory]
    [InlineData(new[] { "set", "Uploads", "off" }, "--reason")]
    [InlineData(new[] { "set", "Uploads", "off", "--reason", "  " }, "--reason")]
    [InlineData(new[] { "set", "Uploads", "maybe", "--reason", "x" }, "on or off")]
    [InlineData(new[] { "set", "NoSuchFlag", "off", "--reason", "x" }, "no flag named")]
    [InlineData(new[] { "set", "Uploads", "off", "--reason", "x", "--targeting", "{\"defaultRolloutPercentage\":5}" }, "kill switch")]
    [InlineData(new[] { "set", "Suggestions", "on", "--reason", "x", "--targeting", "{not json" }, "not valid JSON")]
    [InlineData(new[] { "set", "Suggestions", "on", "--reason", "x", "--targeting", "{\"defaultRolloutPercentage\":500}" }, "targeting.defaultRolloutPercentage")]
    [InlineData(new[] { "toggle" }, "usage")]
    public async Task Bad_usage_exits_2_and_changes_nothing(string[] args, string expected)
    {
        var ops = await factory.OperatorAsync();
        var before = await ops.Client.GetStringAsync("/api/v1/admin/features");

        var result = await RunAsync(args);

        Assert.Equal(2, result.Exit);
        Assert.Contains(expected, result.Err);
        Assert.Equal(before, await ops.Client.GetStringAsync("/api/v1/admin/features"));
    }

    [Fact]
    public async Task An_unreachable_database_exits_1_and_an_unreachable_redis_still_commits()
    {
        var noDatabase = CommandSettings();
        noDatabase["Database:Url"] = $"postgres://postgres@127.0.0.1:{ServiceProcess.FreePort()}/nowhere";
        noDatabase["Database:ConnectTimeoutSeconds"] = "1";
        var failed = await RunAsync(noDatabase, "set", "Uploads", "off", "--reason", "x");
        Assert.Equal(1, failed.Exit);
        Assert.Contains("database", failed.Err);

        var noRedis = CommandSettings();
        noRedis["Redis:Url"] = $"redis://127.0.0.1:{ServiceProcess.FreePort()}";
        noRedis["Redis:ConnectTimeoutMilliseconds"] = "200";
        var committed = await RunAsync(noRedis, "set", "Registration", "on", "--reason", "redis is down but the table is not");
        Assert.True(committed.Exit == 0, committed.Err);
        Assert.Contains("Redis unreachable", committed.Out);
        var ops = await factory.OperatorAsync();
        Assert.Equal("redis is down but the table is not", (await AuditAsync(ops, "Registration")).GetProperty("data").GetProperty("reason").GetString());
    }
}
