using System.Security.Cryptography;
using System.Text;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.RateLimiting;

/// <summary>
/// Decides in Redis: atomic check-and-increment for every key and window, the clock read with Redis TIME (no skew
/// between app servers), a TTL on every counter it writes. Decisions are batched: while one script call is in flight,
/// the requests that arrive wait, and the next call decides them all, one after another inside the script, so each
/// still gets its own exact decision and a lone request is sent at once. Under load this turns hundreds of script
/// calls into a few, which is most of what deciding costs. Sent with EVALSHA; re-sent in full when Redis answers
/// NOSCRIPT (after a restart or SCRIPT FLUSH). The keys of a batch belong to many clients: a Redis Cluster needs
/// them in one slot (a hash tag in RateLimits:KeyPrefix, e.g. {rl}).
/// </summary>
public sealed class RedisWindowStore(RedisConnection redis) : IDisposable
{
    // ARGV[1]: number of decisions. Then per decision: number of keys, "1" = monitor (count every request, never
    // refuse), number of windows, then pairs of limit and window seconds; its keys come next in KEYS.
    // Returns per decision: allowed, then per key and window: remaining, reset s, retry ms.
    public const string Script = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
        local out = {}
        local a = 2
        local k0 = 0
        for d = 1, tonumber(ARGV[1]) do
          local key_count = tonumber(ARGV[a])
          local monitor = ARGV[a + 1] == '1'
          local window_count = tonumber(ARGV[a + 2])
          local allowed = 1
          local results = {}
          local writes = {}
          for k = k0 + 1, k0 + key_count do
            for w = 0, window_count - 1 do
              local limit = tonumber(ARGV[a + 3 + 2 * w])
              local window = tonumber(ARGV[a + 4 + 2 * w])
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
              table.insert(results, remaining)
              table.insert(results, math.ceil(window - elapsed))
              table.insert(results, math.ceil(retry * 1000))
            end
          end
          if allowed == 1 or monitor then
            for _, w in ipairs(writes) do
              redis.call('INCR', w[1])
              redis.call('EXPIRE', w[1], w[2])
            end
          end
          table.insert(out, allowed)
          for _, r in ipairs(results) do table.insert(out, r) end
          a = a + 3 + 2 * window_count
          k0 = k0 + key_count
        end
        return out
        """;

    /// <summary>Decisions per script call at most: bounds the time Redis spends in one call (it serves nothing else meanwhile).</summary>
    public const int MaxBatch = 128;

    private static readonly byte[] ScriptSha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Script));

    private sealed record Pending(
        IReadOnlyList<string> Keys, IReadOnlyList<WindowLimit> Limits, bool Monitor, TaskCompletionSource<WindowDecision> Decision, long Deadline);

    private readonly Lock _gate = new();
    private List<Pending> _waiting = [];
    private List<Pending> _inFlight = [];
    private bool _sending;
    private long _inFlightSince; // Environment.TickCount64 when the call in flight was sent; 0 when none is
    private long _scriptCalls;
    private Timer? _sweeper;

    /// <summary>Script calls sent since start; against the decisions made, how much batching saves.</summary>
    public long ScriptCalls => Interlocked.Read(ref _scriptCalls);

    /// <param name="budget">
    /// How long the caller waits at most; then it gets a <see cref="TimeoutException"/> (a hung Redis). Enforced by one
    /// timer for all waiting decisions: a timer per decision would cost more than the decision.
    /// </param>
    public async Task<WindowDecision> DecideAsync(
        IReadOnlyList<string> keys, IReadOnlyList<WindowLimit> limits, bool monitor, CancellationToken cancellationToken, TimeSpan? budget = null)
    {
        Pending pending;
        bool first;
        lock (_gate)
        {
            // A call in flight for longer than the budget means Redis does not answer (hung, partitioned): a decision
            // queued behind it would only wait out its budget. It fails at once instead, so the caller decides locally
            // now and the breaker sees the failures at the rate requests arrive, not at the rate budgets run out
            // (with few clients, too slow to ever reach its minimum throughput).
            if (budget is { } limit && _inFlightSince != 0 && Environment.TickCount64 - _inFlightSince > limit.TotalMilliseconds)
            {
                throw new TimeoutException("Redis has not answered the rate-limit decision in flight within the decision budget");
            }
            // The request that finds no call in flight sends one now and resumes on the thread that completes it;
            // those that wait resume on the thread pool, so that they do not queue behind one another.
            first = !_sending;
            pending = new Pending(keys, limits, monitor, new TaskCompletionSource<WindowDecision>(
                first ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously),
                budget is { } wait ? Environment.TickCount64 + (long)wait.TotalMilliseconds : long.MaxValue);
            _waiting.Add(pending);
            _sending = true;
            if (budget is { } every && _sweeper is null)
            {
                var period = TimeSpan.FromMilliseconds(Math.Max(5, every.TotalMilliseconds / 5));
                _sweeper = new Timer(static store => ((RedisWindowStore)store!).Sweep(), this, period, period);
            }
        }
        if (first) _ = SendBatchAsync();
        // A caller that stops waiting (its decision budget ran out) leaves the batch; one already sent still counts.
        await using var leave = cancellationToken.Register(() => pending.Decision.TrySetCanceled(cancellationToken));
        return await pending.Decision.Task;
    }

    /// <summary>Sends the waiting decisions in one call; what arrives meanwhile goes in the next, started at once.</summary>
    private async Task SendBatchAsync()
    {
        List<Pending> batch;
        lock (_gate)
        {
            _waiting.RemoveAll(p => p.Decision.Task.IsCompleted);
            if (_waiting.Count <= MaxBatch)
            {
                batch = _waiting;
                _waiting = [];
            }
            else
            {
                batch = _waiting[..MaxBatch];
                _waiting.RemoveRange(0, MaxBatch);
            }
        }
        lock (_gate)
        {
            _inFlight = batch;
            _inFlightSince = Environment.TickCount64;
        }
        WindowDecision[]? decisions = null;
        Exception? failure = null;
        try
        {
            if (batch.Count > 0) decisions = await SendAsync(batch);
        }
        catch (Exception e)
        {
            failure = e;
        }
        lock (_gate)
        {
            _inFlight = [];
            _inFlightSince = 0;
            if (_waiting.Count > 0) ThreadPool.UnsafeQueueUserWorkItem(static store => _ = store.SendBatchAsync(), this, preferLocal: false);
            else _sending = false;
        }
        // Waiters first (their continuations are queued), then the one that resumes right here.
        for (var i = batch.Count - 1; i >= 0; i--)
        {
            if (failure is null) batch[i].Decision.TrySetResult(decisions![i]);
            else batch[i].Decision.TrySetException(failure);
        }
    }

    public void Dispose() => _sweeper?.Dispose();

    /// <summary>Fails the decisions whose budget ran out, whether still waiting or sent to a Redis that does not answer.</summary>
    private void Sweep()
    {
        var now = Environment.TickCount64;
        List<Pending>? expired = null;
        lock (_gate)
        {
            foreach (var pending in _waiting.Concat(_inFlight))
            {
                if (pending.Deadline <= now && !pending.Decision.Task.IsCompleted) (expired ??= []).Add(pending);
            }
        }
        foreach (var pending in expired ?? [])
        {
            pending.Decision.TrySetException(new TimeoutException("Redis did not decide within the rate-limit decision budget"));
        }
    }

    private async Task<WindowDecision[]> SendAsync(List<Pending> batch)
    {
        var database = await redis.GetDatabaseAsync(CancellationToken.None);
        Interlocked.Increment(ref _scriptCalls);
        var keys = new List<RedisKey>();
        var args = new List<RedisValue> { batch.Count };
        foreach (var pending in batch)
        {
            foreach (var key in pending.Keys) keys.Add(key);
            args.Add(pending.Keys.Count);
            args.Add(pending.Monitor ? "1" : "0");
            args.Add(pending.Limits.Count);
            foreach (var limit in pending.Limits)
            {
                args.Add(limit.Limit);
                args.Add(limit.WindowSeconds);
            }
        }

        RedisResult result;
        try
        {
            // The client's script calls take no token; each caller's own wait is bounded by its decision budget,
            // and a hung Redis fails this call after Redis:OperationTimeoutMilliseconds.
            result = await database.ScriptEvaluateAsync(ScriptSha1, keys.ToArray(), args.ToArray());
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            result = await database.ScriptEvaluateAsync(Script, keys.ToArray(), args.ToArray());
        }

        var values = (RedisResult[])result!;
        var decisions = new WindowDecision[batch.Count];
        var at = 0;
        for (var d = 0; d < batch.Count; d++)
        {
            var (pendingKeys, limits) = (batch[d].Keys, batch[d].Limits);
            var allowed = (long)values[at++] == 1;
            var perKey = new WindowResult[pendingKeys.Count * limits.Count];
            for (var r = 0; r < perKey.Length; r++, at += 3)
            {
                perKey[r] = new WindowResult(limits[r % limits.Count], (int)values[at], (int)values[at + 1], TimeSpan.FromMilliseconds((long)values[at + 2]));
            }
            decisions[d] = WindowDecision.Combine(allowed, limits, perKey);
        }
        return decisions;
    }
}
