using System.Diagnostics;
using System.Diagnostics.Metrics;
using Dapper;
using Npgsql;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Caching;

/// <summary>Lists are served from Redis until a change bumps the organization's version; racing changes never leave a stale answer; without Redis, PostgreSQL answers.</summary>
public sealed class OrgReadCacheTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task A_list_is_served_from_the_cache_until_a_change_invalidates_it()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var hits = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == "Service" && instrument.Name == "cache.lookups") l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags) if (tag is { Key: "result", Value: "hit" }) Interlocked.Add(ref hits, value);
        });
        listener.Start();

        var first = await owner.SuggestionsAsync(orgId);
        var target = first[0].GetProperty("id").GetGuid();
        await using (var connection = await factory.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE suggestions SET title = 'changed behind the cache' WHERE id = @target", new { target });
        }
        var cached = await owner.SuggestionsAsync(orgId);
        Assert.Equal(first[0].GetProperty("title").GetString(), cached.Single(s => s.GetProperty("id").GetGuid() == target).GetProperty("title").GetString());
        Assert.True(Interlocked.Read(ref hits) >= 1);

        await Identity.EnsureAsync(await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{first[^1].GetProperty("id")}/dismiss", null), HttpStatusCode.OK);
        var fresh = await owner.SuggestionsAsync(orgId);
        Assert.Equal("changed behind the cache", fresh.Single(s => s.GetProperty("id").GetGuid() == target).GetProperty("title").GetString());
    }

    [Fact]
    public async Task Reads_racing_changes_never_leave_a_stale_list_behind()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var ids = (await owner.SuggestionsAsync(orgId)).Select(s => s.GetProperty("id").GetGuid()).ToList();
        Assert.True(ids.Count >= 4);
        foreach (var id in ids.Take(4))
        {
            using var stop = new CancellationTokenSource();
            var readers = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested) await owner.SuggestionsAsync(orgId);
            })).ToList();
            await Task.Delay(30);
            await Identity.EnsureAsync(await owner.Client.PostAsJsonAsync($"{PatternSetup.Suggestions(orgId)}/{id}/snooze",
                new { until = DateTimeOffset.UtcNow.AddDays(1).ToString("O") }), HttpStatusCode.OK);
            await Task.Delay(30);
            stop.Cancel();
            await Task.WhenAll(readers);
            var listed = (await owner.SuggestionsAsync(orgId)).Select(s => s.GetProperty("id").GetGuid()).Order().ToList();
            await using var connection = await factory.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
            var truth = (await connection.QueryAsync<Guid>("SELECT id FROM suggestions WHERE org_id = @orgId AND status = 'new'", new { orgId })).Order().ToList();
            Assert.Equal(truth, listed);
            Assert.DoesNotContain(id, listed);
        }
    }

    [Fact]
    public async Task With_Redis_unreachable_reads_go_to_PostgreSQL_without_waiting()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var redis = new Uri(TestServers.RedisUrl);
        await using var proxy = new TcpProxy(redis.Host, redis.Port);
        await using var other = await factory.AnotherInstanceAsync();
        other.Settings["Redis:Url"] = $"redis://127.0.0.1:{proxy.Port}";
        other.Settings["RateLimits:Enabled"] = "false";
        var client = other.ClientWithToken(owner.AccessToken);
        var expected = (await owner.SuggestionsAsync(orgId)).Select(s => s.GetProperty("id").GetGuid()).ToList();

        proxy.Cut();
        for (var i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            var page = await client.GetFromJsonAsync<JsonElement>($"{PatternSetup.Suggestions(orgId)}?limit=200");
            Assert.Equal(expected, page.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"read {i} took {clock.Elapsed}");
        }
    }
}
