using System.Globalization;
using System.Text;

namespace Service.Infrastructure.RateLimiting;

/// <summary>
/// Headers on every limited response, allowed or refused:
/// - IETF draft (httpapi-ratelimit-headers): RateLimit-Policy: "api-minute";q=120;w=60, "api-hour";q=3000;w=3600
///   and RateLimit: "api-minute";r=57;t=23, "api-hour";r=2990;t=1800 (remaining r, seconds until the window resets t);
/// - the common X-RateLimit-Limit / -Remaining / -Reset (Unix time in seconds), for the window closest to its limit.
/// </summary>
public static class RateLimitHeaders
{
    // The policy header only changes with the limits: built once per policy and limits, not per response.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, WindowLimit, WindowLimit?), string> PolicyHeaders = new();

    public static void Register(HttpContext context, string policy, WindowDecision decision, TimeProvider time)
    {
        if (decision.Windows.Count == 0) return;
        context.Response.OnStarting(static state =>
        {
            var (context, policy, decision, time) = ((HttpContext, string, WindowDecision, TimeProvider))state;
            var windows = decision.Windows;
            var headers = context.Response.Headers;
            headers["RateLimit-Policy"] = PolicyHeader(policy, windows);
            var remaining = new StringBuilder();
            var tightest = windows[0];
            foreach (var w in windows)
            {
                if (remaining.Length > 0) remaining.Append(", ");
                remaining.Append(CultureInfo.InvariantCulture, $"\"{policy}-{w.Window.Label}\";r={w.Remaining};t={w.ResetSeconds}");
                if (w.Remaining < tightest.Remaining || (w.Remaining == tightest.Remaining && w.ResetSeconds > tightest.ResetSeconds)) tightest = w;
            }
            headers["RateLimit"] = remaining.ToString();
            headers["X-RateLimit-Limit"] = tightest.Window.Limit.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Remaining"] = tightest.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = time.GetUtcNow().AddSeconds(tightest.ResetSeconds).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        }, (context, policy, decision, time));
    }

    private static string PolicyHeader(string policy, IReadOnlyList<WindowResult> windows) =>
        windows.Count > 2
            ? Build(policy, windows)
            : PolicyHeaders.GetOrAdd((policy, windows[0].Window, windows.Count > 1 ? windows[1].Window : null), _ => Build(policy, windows));

    private static string Build(string policy, IReadOnlyList<WindowResult> windows) =>
        string.Join(", ", windows.Select(w => $"\"{policy}-{w.Window.Label}\";q={w.Window.Limit};w={w.Window.WindowSeconds}"));
}
