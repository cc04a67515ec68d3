using System.ComponentModel.DataAnnotations;

namespace Service.Infrastructure.Health;

public sealed class HealthOptions
{
    public const string Section = "Health";

    [Range(100, 60_000, ErrorMessage = "Health:CheckTimeoutMilliseconds (env Health__CheckTimeoutMilliseconds): must be from 100 to 60000. Fix: e.g. 2000, below the orchestrator's probe timeout.")]
    public int CheckTimeoutMilliseconds { get; set; } = 2000;

    [Range(0, 60_000, ErrorMessage = "Health:CacheMilliseconds (env Health__CacheMilliseconds): must be from 0 to 60000. Fix: e.g. 1000; 0 checks on every probe.")]
    public int CacheMilliseconds { get; set; } = 1000;
}
