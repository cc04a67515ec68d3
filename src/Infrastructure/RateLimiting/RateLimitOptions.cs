using System.ComponentModel.DataAnnotations;

namespace Service.Infrastructure.RateLimiting;

/// <summary>Global request limits per client. Enforcement arrives with the rate limiter; the settings are validated now.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    [Range(1, 1_000_000, ErrorMessage = "RATE_LIMIT_PER_MINUTE (RateLimits:PerMinute): must be a whole number from 1 to 1000000. Fix: set RATE_LIMIT_PER_MINUTE to the requests one client may make per minute, e.g. 120.")]
    public int PerMinute { get; set; } = 120;

    [Range(1, 100_000_000, ErrorMessage = "RATE_LIMIT_PER_HOUR (RateLimits:PerHour): must be a whole number from 1 to 100000000. Fix: set RATE_LIMIT_PER_HOUR to the requests one client may make per hour, e.g. 3000.")]
    public int PerHour { get; set; } = 3000;
}
