namespace Service.Infrastructure.RateLimiting;

/// <summary>One limit of a policy: at most <see cref="Limit"/> requests in any <see cref="WindowSeconds"/>.</summary>
public sealed record WindowLimit(string Label, int Limit, int WindowSeconds);

/// <summary>Where one window of one client stands after this request.</summary>
public sealed record WindowResult(WindowLimit Window, int Remaining, int ResetSeconds, TimeSpan RetryAfter);

/// <summary>
/// Allowed only if every window of every key allows it. Per window, <see cref="Windows"/> holds the key closest to
/// its limit (what headers report).
/// </summary>
public sealed record WindowDecision(bool Allowed, IReadOnlyList<WindowResult> Windows)
{
    public TimeSpan RetryAfter => Windows.Count == 0 ? TimeSpan.Zero : Windows.Max(w => w.RetryAfter);

    /// <summary>Reduces per-key results (key-major order, one per window) to the tightest result per window.</summary>
    /// <remarks>Runs for every limited request: plain loops, no allocation beyond the result.</remarks>
    public static WindowDecision Combine(bool allowed, IReadOnlyList<WindowLimit> limits, IReadOnlyList<WindowResult> perKey)
    {
        var tightest = new WindowResult[limits.Count];
        for (var j = 0; j < perKey.Count; j++)
        {
            var i = j % limits.Count;
            var candidate = perKey[j];
            if (tightest[i] is not { } best || candidate.Remaining < best.Remaining
                || (candidate.Remaining == best.Remaining && candidate.RetryAfter > best.RetryAfter))
            {
                tightest[i] = candidate;
            }
        }
        return new WindowDecision(allowed, tightest);
    }
}

/// <summary>
/// The sliding-window-counter arithmetic, shared by the in-memory store and mirrored by the Redis script.
/// A window of W seconds is estimated from two fixed-window counters: previous * (share of it still inside the
/// sliding window) + current. Exact within a window, no 2x burst at window edges, two integers of state.
/// </summary>
public static class SlidingWindow
{
    public static (bool Allowed, int Remaining, int ResetSeconds, TimeSpan RetryAfter) Evaluate(long previous, long current, double elapsed, int window, int limit)
    {
        var estimate = previous * (1 - elapsed / window) + current;
        var reset = (int)Math.Ceiling(window - elapsed);
        if (estimate + 1 <= limit)
        {
            return (true, (int)Math.Max(0, Math.Floor(limit - estimate - 1)), reset, TimeSpan.Zero);
        }
        // When the previous window's weight alone keeps us over, wait for it to fade; otherwise wait for the next
        // window, where this window's count becomes the fading "previous".
        var retry = current + 1 <= limit
            ? window * (1 - (limit - current - 1) / (double)previous) - elapsed
            : (window - elapsed) + Math.Max(0, window * (1 - (limit - 1) / (double)current));
        return (false, 0, reset, TimeSpan.FromSeconds(Math.Max(retry, 0.001)));
    }
}
