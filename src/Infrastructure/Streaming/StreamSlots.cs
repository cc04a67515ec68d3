using Microsoft.Extensions.Options;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.Streaming;

/// <summary>
/// Counts each user's open streams across instances: a Redis sorted set per user whose members are stream ids
/// scored by when they lapse. Instances renew their streams every heartbeat, so the slots of an instance that died
/// lapse after three heartbeats. While Redis is unreachable each instance enforces the cap on its own streams.
/// </summary>
public sealed partial class StreamSlots(RedisConnection redis, IOptions<StreamOptions> options, IOptions<RedisOptions> redisOptions,
    TimeProvider time, ILogger<StreamSlots> logger)
{
    // KEYS[1] the user's set; ARGV: now, lapse time, stream id, cap, key lifetime (ms). Returns 0 when acquired,
    // else the milliseconds until the first slot lapses unless renewed (a killed instance's streams free theirs then).
    private static readonly LuaScript Acquire = LuaScript.Prepare("""
        redis.call('ZREMRANGEBYSCORE', @key, '-inf', @now)
        if redis.call('ZCARD', @key) >= tonumber(@cap) then
          local first = redis.call('ZRANGE', @key, 0, 0, 'WITHSCORES')
          return math.max(1, tonumber(first[2]) - tonumber(@now))
        end
        redis.call('ZADD', @key, @lapse, @member)
        redis.call('PEXPIRE', @key, @ttl)
        return 0
        """);

    private TimeSpan Lifetime => TimeSpan.FromSeconds(options.Value.HeartbeatSeconds * 3);
    private TimeSpan Timeout => TimeSpan.FromMilliseconds(redisOptions.Value.OperationTimeoutMilliseconds);

    private RedisKey Key(Guid userId) => $"{options.Value.KeyPrefix}:open:{userId:N}";

    /// <summary>
    /// Null when one more stream may open, else how long until a slot may free up (the Retry-After of the refusal).
    /// <paramref name="openHere"/> is the user's count on this instance, the fallback.
    /// </summary>
    public async Task<TimeSpan?> TryAcquireAsync(Guid userId, Guid streamId, int openHere, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            var database = await redis.GetDatabaseAsync(cancellationToken).WaitAsync(Timeout, cancellationToken);
            var result = await database.ScriptEvaluateAsync(Acquire, new
            {
                key = Key(userId), now, lapse = now + (long)Lifetime.TotalMilliseconds, member = streamId.ToString("N"),
                cap = options.Value.MaxStreamsPerUser, ttl = (long)Lifetime.TotalMilliseconds,
            }).WaitAsync(Timeout, cancellationToken);
            return (long)result == 0 ? null : TimeSpan.FromMilliseconds((long)result);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogFallback(logger, e.GetType().Name);
            return openHere < options.Value.MaxStreamsPerUser ? null : TimeSpan.FromSeconds(options.Value.HeartbeatSeconds);
        }
    }

    /// <summary>Pushes the lapse time of this instance's streams forward; failures are left to the next heartbeat.</summary>
    public async Task RenewAsync(IReadOnlyCollection<StreamConnection> streams, CancellationToken cancellationToken)
    {
        if (streams.Count == 0) return;
        var lapse = time.GetUtcNow().ToUnixTimeMilliseconds() + (long)Lifetime.TotalMilliseconds;
        try
        {
            var database = await redis.GetDatabaseAsync(cancellationToken).WaitAsync(Timeout, cancellationToken);
            var batch = database.CreateBatch();
            var writes = new List<Task>(streams.Count * 2);
            foreach (var stream in streams)
            {
                writes.Add(batch.SortedSetAddAsync(Key(stream.UserId), stream.Id.ToString("N"), lapse));
                writes.Add(batch.KeyExpireAsync(Key(stream.UserId), Lifetime));
            }
            batch.Execute();
            await Task.WhenAll(writes).WaitAsync(Timeout * 2, cancellationToken);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The sets lapse later than the streams would; nothing to do until Redis answers.
        }
    }

    public async Task ReleaseAsync(StreamConnection stream)
    {
        try
        {
            var database = await redis.GetDatabaseAsync(CancellationToken.None).WaitAsync(Timeout);
            await database.SortedSetRemoveAsync(Key(stream.UserId), stream.Id.ToString("N")).WaitAsync(Timeout);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The slot lapses by itself after three heartbeats.
        }
    }

    [LoggerMessage(LogLevel.Warning, "Open streams cannot be counted on Redis ({Error}); capping each user per instance until it answers")]
    private static partial void LogFallback(ILogger logger, string error);
}
