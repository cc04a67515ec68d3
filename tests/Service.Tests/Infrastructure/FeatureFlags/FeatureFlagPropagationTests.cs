using System.Diagnostics;
using Service.Tests.Fixtures;
using Xunit.Abstractions;

namespace Service.Tests.Infrastructure.FeatureFlags;

/// <summary>
/// Several instances sharing one database and one Redis: a toggle through one instance's admin API reaches the
/// others through pub/sub, or through their poll when pub/sub is cut off; evaluation itself needs neither server.
/// </summary>
public sealed class FeatureFlagPropagationTests(FeatureFlagPropagationTests.Factory factory, ITestOutputHelper output)
    : IClassFixture<FeatureFlagPropagationTests.Factory>
{
    public sealed class Factory : OperatorServiceFactory
    {
        public Factory()
        {
            // Far longer than any wait below: only an announcement can explain a change seen within a second.
            Settings["FeatureFlags:PollIntervalSeconds"] = "300";
        }
    }

    private async Task SetAsync(string name, bool enabled)
    {
        var ops = await factory.OperatorAsync();
        var response = await ops.Client.PutAsJsonAsync($"/api/v1/admin/features/{name}", new { enabled, reason = $"propagation test: {enabled}" });
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
    }

    /// <summary>Polls the instance's gated endpoint until it answers <paramref name="expected"/>; returns how long that took.</summary>
    private static async Task<TimeSpan> TimeUntilAsync(HttpClient client, HttpStatusCode expected, TimeSpan limit, Stopwatch since)
    {
        while (since.Elapsed < limit)
        {
            if ((await client.GetAsync("/test/kill-switch")).StatusCode == expected) return since.Elapsed;
            await Task.Delay(10);
        }
        throw new Xunit.Sdk.XunitException($"/test/kill-switch did not answer {expected} within {limit.TotalSeconds} s");
    }

    [Fact]
    public async Task A_toggle_through_one_instance_is_obeyed_by_another_within_a_second()
    {
        await factory.OperatorAsync(); // signed up before the clock starts
        await using var other = await factory.AnotherInstanceAsync();
        var otherClient = other.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await otherClient.GetAsync("/test/kill-switch")).StatusCode);

        var off = Stopwatch.StartNew();
        await SetAsync("Workflows", false);
        var offAfter = await TimeUntilAsync(otherClient, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(1), off);

        var on = Stopwatch.StartNew();
        await SetAsync("Workflows", true);
        var onAfter = await TimeUntilAsync(otherClient, HttpStatusCode.OK, TimeSpan.FromSeconds(1), on);

        output.WriteLine($"other instance obeyed 'off' {offAfter.TotalMilliseconds:F0} ms and 'on' {onAfter.TotalMilliseconds:F0} ms after the PUT was sent");
    }

    [Fact]
    public async Task With_pubsub_cut_off_an_instance_follows_within_its_poll_interval()
    {
        const int pollSeconds = 2;
        var redis = new Uri(TestServers.RedisUrl);
        await using var proxy = new TcpProxy(redis.Host, redis.Port);
        await using var other = await factory.AnotherInstanceAsync();
        other.Settings["Redis:Url"] = $"redis://127.0.0.1:{proxy.Port}";
        other.Settings["FeatureFlags:PollIntervalSeconds"] = pollSeconds.ToString();
        other.Settings["RateLimits:Enabled"] = "false"; // keeps every request fast while Redis is unreachable
        var otherClient = other.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await otherClient.GetAsync("/test/kill-switch")).StatusCode);

        await factory.OperatorAsync();
        proxy.Cut();
        try
        {
            var off = Stopwatch.StartNew();
            await SetAsync("Workflows", false);
            var after = await TimeUntilAsync(otherClient, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(pollSeconds + 1.5), off);
            output.WriteLine($"instance without pub/sub obeyed {after.TotalMilliseconds:F0} ms after the PUT (poll interval {pollSeconds} s)");
        }
        finally
        {
            await SetAsync("Workflows", true);
        }
    }

    [Fact]
    public async Task Evaluation_uses_the_snapshot_with_database_and_redis_both_unreachable()
    {
        var postgres = new Uri(TestServers.PostgresAdminUrl);
        var redis = new Uri(TestServers.RedisUrl);
        await using var databaseProxy = new TcpProxy(postgres.Host, postgres.Port);
        await using var redisProxy = new TcpProxy(redis.Host, redis.Port);
        await using var isolated = await factory.AnotherInstanceAsync();
        isolated.Settings["Database:Url"] = $"postgres://postgres@127.0.0.1:{databaseProxy.Port}/{factory.DatabaseName}";
        isolated.Settings["Database:ConnectTimeoutSeconds"] = "5"; // must start on a loaded machine; once cut, connections are refused at once
        isolated.Settings["Redis:Url"] = $"redis://127.0.0.1:{redisProxy.Port}";
        isolated.Settings["FeatureFlags:PollIntervalSeconds"] = "1";
        isolated.Settings["RateLimits:Enabled"] = "false";
        var client = isolated.CreateClient();

        await SetAsync("Workflows", false);
        try
        {
            await TimeUntilAsync(client, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(1), Stopwatch.StartNew());
            databaseProxy.Cut();
            redisProxy.Cut();

            // Several failed polls later, and after the value changed where this instance cannot see it:
            // every answer still comes from the last snapshot.
            await SetAsync("Workflows", true);
            var until = Stopwatch.StartNew();
            var answers = 0;
            while (until.Elapsed < TimeSpan.FromSeconds(2.5))
            {
                var response = await client.GetAsync("/test/kill-switch");
                var problem = await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
                Assert.Equal("Workflows", problem.GetProperty("feature").GetString());
                answers++;
                await Task.Delay(25);
            }
            output.WriteLine($"{answers} evaluations from the snapshot with PostgreSQL and Redis unreachable");

            databaseProxy.Restore();
            redisProxy.Restore();
            var back = await TimeUntilAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(5), Stopwatch.StartNew());
            output.WriteLine($"followed the database again {back.TotalMilliseconds:F0} ms after it came back");
        }
        finally
        {
            await SetAsync("Workflows", true);
        }
    }
}
