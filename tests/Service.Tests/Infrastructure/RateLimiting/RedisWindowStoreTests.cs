using Microsoft.Extensions.DependencyInjection;
using Service.Infrastructure.RateLimiting;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.RateLimiting;

/// <summary>Decisions arriving together are sent together, and each is still exact: as if decided one at a time.</summary>
public sealed class RedisWindowStoreTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Concurrent_decisions_batched_together_stay_exact_per_key()
    {
        var redis = factory.Services.GetRequiredService<RedisWindowStore>();
        WindowLimit[] limits = [new("minute", 100, 60), new("hour", 1000, 3600)];
        var hot = $"batch-{Guid.NewGuid():N}:hot";
        var others = Enumerable.Range(0, 3).Select(i => $"batch-{Guid.NewGuid():N}:{i}").ToArray();

        // 300 on one key (limit 100) interleaved with 100 on each of three others, all at once.
        var callsBefore = redis.ScriptCalls;
        var calls = Enumerable.Range(0, 300).SelectMany(i => new[] { hot, others[i % 3] })
            .Select(key => Task.Run(() => redis.DecideAsync([key], limits, monitor: false, CancellationToken.None).ContinueWith(t => (key, t.Result))))
            .ToList();
        var results = await Task.WhenAll(calls);
        var scriptCalls = redis.ScriptCalls - callsBefore;
        Assert.True(scriptCalls < 600 / 2, $"600 decisions took {scriptCalls} script calls");

        var hotResults = results.Where(r => r.key == hot).Select(r => r.Item2).ToList();
        Assert.Equal(100, hotResults.Count(d => d.Allowed));
        // Each allowed decision saw the one before it: remaining counts down 99..0, each value once.
        Assert.Equal(Enumerable.Range(0, 100).Reverse(), hotResults.Where(d => d.Allowed).Select(d => d.Windows[0].Remaining).OrderDescending());
        Assert.All(hotResults.Where(d => !d.Allowed), d => Assert.True(d.RetryAfter > TimeSpan.Zero));
        foreach (var key in others)
        {
            Assert.All(results.Where(r => r.key == key), r => Assert.True(r.Item2.Allowed));
        }
        // Whatever the batching, Redis holds exactly one count per allowed request: the 101st is refused.
        Assert.False((await redis.DecideAsync([others[0]], limits, monitor: false, CancellationToken.None)).Allowed);
    }
}
