namespace Service.Infrastructure.RateLimiting;

/// <summary>
/// The same sliding-window counters in this instance's memory: the fail-open fallback while Redis is unreachable.
/// Limits then hold per instance rather than for the deployment, which is the point of failing open.
/// </summary>
public sealed class LocalWindowStore(TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (long Count, DateTimeOffset Expires)> _counters = new();
    private DateTimeOffset _nextSweep;

    public WindowDecision Decide(IReadOnlyList<string> keys, IReadOnlyList<WindowLimit> limits, bool monitor)
    {
        var now = time.GetUtcNow();
        var seconds = now.ToUnixTimeMilliseconds() / 1000.0;
        lock (_gate)
        {
            Sweep(now);
            var allowed = true;
            var perKey = new List<WindowResult>(keys.Count * limits.Count);
            var writes = new List<(string Key, DateTimeOffset Expires)>();
            foreach (var key in keys)
            {
                foreach (var limit in limits)
                {
                    var index = (long)Math.Floor(seconds / limit.WindowSeconds);
                    var elapsed = seconds - index * limit.WindowSeconds;
                    var currentKey = $"{key}:{limit.WindowSeconds}:{index}";
                    var result = SlidingWindow.Evaluate(Count($"{key}:{limit.WindowSeconds}:{index - 1}", now), Count(currentKey, now), elapsed, limit.WindowSeconds, limit.Limit);
                    allowed &= result.Allowed;
                    perKey.Add(new WindowResult(limit, result.Remaining, result.ResetSeconds, result.RetryAfter));
                    writes.Add((currentKey, now.AddSeconds(2 * limit.WindowSeconds - elapsed + 1)));
                }
            }
            if (allowed || monitor)
            {
                foreach (var (key, expires) in writes)
                {
                    _counters[key] = (Count(key, now) + 1, expires);
                }
            }
            return WindowDecision.Combine(allowed, limits, perKey);
        }
    }

    private long Count(string key, DateTimeOffset now) =>
        _counters.TryGetValue(key, out var entry) && entry.Expires > now ? entry.Count : 0;

    private void Sweep(DateTimeOffset now)
    {
        if (now < _nextSweep) return;
        _nextSweep = now.AddSeconds(30);
        foreach (var key in _counters.Where(c => c.Value.Expires <= now).Select(c => c.Key).ToList()) _counters.Remove(key);
    }
}
