using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Service.Infrastructure.Observability;
using Service.Infrastructure.Patterns;
using Service.Infrastructure.Redis;
using Service.Infrastructure.Resilience;
using StackExchange.Redis;

namespace Service.Infrastructure.Caching;

/// <summary>
/// Expensive organization reads (pattern and suggestion lists, the overview) cached in Redis per organization and
/// query. Every key carries the organization's version number; a change bumps the number after its commit, so
/// later reads miss and entries written by reads that raced the change sit under the old number, never read again
/// (they expire). When Redis is slow or down, reads go to PostgreSQL (a circuit keeps them from waiting on it).
/// </summary>
public sealed class OrgReadCache(RedisConnection redis, IOptions<PatternOptions> options, IOptions<RedisOptions> redisOptions,
    DependencyPipelines pipelines, ILogger<OrgReadCache> logger)
{
    private readonly ResiliencePipeline _pipeline = pipelines.Build(new DependencyPolicy("Redis cache",
        TimeSpan.FromMilliseconds(Math.Min(250, redisOptions.Value.OperationTimeoutMilliseconds)), TimeSpan.FromSeconds(5), MinimumThroughput: 4,
        (e, _) => e is RedisException or TimeoutException), new CircuitBreakerStateProvider());

    public async Task<T> GetOrLoadAsync<T>(Guid orgId, string area, object query, Func<CancellationToken, Task<T>> load, CancellationToken cancellationToken)
    {
        var queryKey = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(query, JsonSerializerOptions.Web)))[..24];
        string? key = null;
        try
        {
            // The version first: the entry's key names it.
            (key, var cached) = await _pipeline.ExecuteAsync(async token =>
            {
                var database = await redis.GetDatabaseAsync(token);
                var version = (long?)await database.StringGetAsync(VersionKey(orgId)).WaitAsync(token) ?? 0;
                var entry = $"cache:{orgId:N}:{version}:{area}:{queryKey}";
                return (entry, (string?)await database.StringGetAsync(entry).WaitAsync(token));
            }, cancellationToken);
            if (cached is not null)
            {
                ServiceDiagnostics.CacheLookup(area, "hit");
                return JsonSerializer.Deserialize<T>(cached, JsonSerializerOptions.Web)!;
            }
        }
        catch (Exception e) when (Unavailable(e) && !cancellationToken.IsCancellationRequested)
        {
            logger.LogDebug("Cache read skipped ({Error}); reading PostgreSQL", e.GetType().Name);
            key = null;
        }
        var value = await load(cancellationToken);
        ServiceDiagnostics.CacheLookup(area, key is null ? "bypass" : "miss");
        if (key is not null) await StoreAsync(key, value, cancellationToken);
        return value;
    }

    /// <summary>Call after the change committed: every entry of the organization is stale from now on.</summary>
    public async Task InvalidateAsync(Guid orgId, CancellationToken cancellationToken)
    {
        try
        {
            await _pipeline.ExecuteAsync(async token => await (await redis.GetDatabaseAsync(token)).StringIncrementAsync(VersionKey(orgId)).WaitAsync(token),
                CancellationToken.None);
        }
        catch (Exception e) when (Unavailable(e))
        {
            logger.LogWarning("Cached reads of organization {OrgId} not invalidated ({Error}); they expire within {Seconds} s",
                orgId, e.GetType().Name, options.Value.CacheSeconds);
        }
    }

    private async Task StoreAsync<T>(string key, T value, CancellationToken cancellationToken)
    {
        try
        {
            var json = JsonSerializer.Serialize(value, JsonSerializerOptions.Web);
            await _pipeline.ExecuteAsync(async token => await (await redis.GetDatabaseAsync(token))
                .StringSetAsync(key, json, TimeSpan.FromSeconds(options.Value.CacheSeconds)).WaitAsync(token), cancellationToken);
        }
        catch (Exception e) when (Unavailable(e) && !cancellationToken.IsCancellationRequested)
        {
            logger.LogDebug("Cache write skipped ({Error})", e.GetType().Name);
        }
    }

    /// <summary>Redis failed, was too slow, or its circuit is open: the cache steps aside.</summary>
    private static bool Unavailable(Exception e) => e is RedisException or TimeoutException or BrokenCircuitException or Polly.Timeout.TimeoutRejectedException;

    private static RedisKey VersionKey(Guid orgId) => $"cache:{orgId:N}:version";
}
