using System.Security.Cryptography;
using System.Text;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.RateLimiting;

/// <summary>
/// Decides in Redis with one script call per request: one round trip, atomic check-and-increment for every key and
/// window, the clock read with Redis TIME (no skew between app servers), and a TTL on every counter it writes.
/// Sent with EVALSHA; re-sent in full when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
/// </summary>
public sealed class RedisWindowStore(RedisConnection redis)
{
    // KEYS: one base key per client identity. ARGV[1]: "1" = monitor (count every request, never refuse).
    // ARGV[2..]: pairs of limit, window seconds. Returns: allowed, then per key and window: remaining, reset s, retry ms.
    public const string Script = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
        local monitor = ARGV[1] == '1'
        local allowed = 1
        local out = {}
        local writes = {}
        for k = 1, #KEYS do
          for i = 2, #ARGV, 2 do
            local limit = tonumber(ARGV[i])
            local window = tonumber(ARGV[i + 1])
            local index = math.floor(now / window)
            local elapsed = now - index * window
            local current_key = KEYS[k] .. ':' .. window .. ':' .. index
            local previous = tonumber(redis.call('GET', KEYS[k] .. ':' .. window .. ':' .. (index - 1)) or '0')
            local current = tonumber(redis.call('GET', current_key) or '0')
            local estimate = previous * (1 - elapsed / window) + current
            local remaining = 0
            local retry = 0
            if estimate + 1 <= limit then
              remaining = math.max(0, math.floor(limit - estimate - 1))
            else
              allowed = 0
              if current + 1 <= limit then
                retry = window * (1 - (limit - current - 1) / previous) - elapsed
              else
                retry = (window - elapsed) + math.max(0, window * (1 - (limit - 1) / current))
              end
              retry = math.max(retry, 0.001)
            end
            table.insert(writes, { current_key, math.ceil(2 * window - elapsed) + 1 })
            table.insert(out, remaining)
            table.insert(out, math.ceil(window - elapsed))
            table.insert(out, math.ceil(retry * 1000))
          end
        end
        if allowed == 1 or monitor then
          for _, w in ipairs(writes) do
            redis.call('INCR', w[1])
            redis.call('EXPIRE', w[1], w[2])
          end
        end
        table.insert(out, 1, allowed)
        return out
        """;

    private static readonly byte[] ScriptSha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Script));

    public async Task<WindowDecision> DecideAsync(IReadOnlyList<string> keys, IReadOnlyList<WindowLimit> limits, bool monitor, CancellationToken cancellationToken)
    {
        var database = await redis.GetDatabaseAsync(cancellationToken);
        var redisKeys = keys.Select(k => (RedisKey)k).ToArray();
        var args = new List<RedisValue> { monitor ? "1" : "0" };
        foreach (var limit in limits)
        {
            args.Add(limit.Limit);
            args.Add(limit.WindowSeconds);
        }

        RedisResult result;
        try
        {
            // The client's script calls take no token: WaitAsync bounds them (the caller's timeout).
            result = await database.ScriptEvaluateAsync(ScriptSha1, redisKeys, args.ToArray()).WaitAsync(cancellationToken);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            result = await database.ScriptEvaluateAsync(Script, redisKeys, args.ToArray()).WaitAsync(cancellationToken);
        }

        var values = ((RedisResult[])result!).Select(r => (long)r).ToArray();
        var perKey = new List<WindowResult>(keys.Count * limits.Count);
        for (var k = 0; k < keys.Count; k++)
        {
            for (var i = 0; i < limits.Count; i++)
            {
                var at = 1 + (k * limits.Count + i) * 3;
                perKey.Add(new WindowResult(limits[i], (int)values[at], (int)values[at + 1], TimeSpan.FromMilliseconds(values[at + 2])));
            }
        }
        return WindowDecision.Combine(values[0] == 1, limits, perKey);
    }
}
