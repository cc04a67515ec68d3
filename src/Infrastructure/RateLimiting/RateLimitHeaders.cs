using System.Globalization;

namespace Service.Infrastructure.RateLimiting;

/// <summary>
/// Headers on every limited response, allowed or refused:
/// - IETF draft (httpapi-ratelimit-headers): RateLimit-Policy: "api-minute";q=120;w=60, "api-hour";q=3000;w=3600
///   and RateLimit: "api-minute";r=57;t=23, "api-hour";r=2990;t=1800 (remaining r, seconds until the window resets t);
/// - the common X-RateLimit-Limit / -Remaining / -Reset (Unix time in seconds), for the window closest to its limit.
/// </summary>
public static class RateLimitHeaders
{
    public static void Register(HttpContext context, string policy, WindowDecision decision, TimeProvider time)
    {
        if (decision.Windows.Count == 0) return;
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers["RateLimit-Policy"] = string.Join(", ", decision.Windows.Select(w =>
                $"\"{policy}-{w.Window.Label}\";q={w.Window.Limit};w={w.Window.WindowSeconds}"));
            headers["RateLimit"] = string.Join(", ", decision.Windows.Select(w =>
                $"\"{policy}-{w.Window.Label}\";r={w.Remaining};t={w.ResetSeconds}"));
            var tightest = decision.Windows.OrderBy(w => w.Remaining).ThenByDescending(w => w.ResetSeconds).First();
            headers["X-RateLimit-Limit"] = tightest.Window.Limit.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Remaining"] = tightest.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = time.GetUtcNow().AddSeconds(tightest.ResetSeconds).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        });
    }
}
