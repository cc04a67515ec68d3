using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.RateLimiting;

public enum FailureMode
{
    /// <summary>Redis unreachable: decide with in-memory limits of the same size (per instance).</summary>
    FailOpen,

    /// <summary>Redis unreachable: refuse with 503 and Retry-After (for endpoints that attract abuse).</summary>
    FailClosed,
}

public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Master switch; off only for benchmarks and emergencies.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Global default per client per minute (RATE_LIMIT_PER_MINUTE): the "api" policy's limit.</summary>
    [Range(1, 1_000_000, ErrorMessage = "RATE_LIMIT_PER_MINUTE (RateLimits:PerMinute): must be a whole number from 1 to 1000000. Fix: set RATE_LIMIT_PER_MINUTE to the requests one client may make per minute, e.g. 120.")]
    public int PerMinute { get; set; } = 120;

    /// <summary>Global default per client per hour (RATE_LIMIT_PER_HOUR).</summary>
    [Range(1, 100_000_000, ErrorMessage = "RATE_LIMIT_PER_HOUR (RateLimits:PerHour): must be a whole number from 1 to 100000000. Fix: set RATE_LIMIT_PER_HOUR to the requests one client may make per hour, e.g. 3000.")]
    public int PerHour { get; set; } = 3000;

    /// <summary>Prefix of every Redis key; instances of one deployment must share it.</summary>
    [Required(ErrorMessage = "RateLimits:KeyPrefix (env RateLimits__KeyPrefix): is empty. Fix: e.g. rl.")]
    public string KeyPrefix { get; set; } = "rl";

    /// <summary>Per policy: limits, failure mode, monitor mode. Unset values take the policy's defaults (see RateLimitPolicies).</summary>
    public Dictionary<string, PolicyOptions> Policies { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    [ValidateObjectMembers]
    public AllowlistOptions Allowlist { get; set; } = new();

    /// <summary>Limits for particular clients, keyed by API key id or user id; they replace the policy's limits.</summary>
    public Dictionary<string, LimitOverride> Overrides { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Length of the "minute" and "hour" windows; shorter only in tests.</summary>
    [Range(1, 3600, ErrorMessage = "RateLimits:MinuteWindowSeconds (env RateLimits__MinuteWindowSeconds): must be from 1 to 3600. Fix: leave it at 60.")]
    public int MinuteWindowSeconds { get; set; } = 60;

    [Range(1, 86_400, ErrorMessage = "RateLimits:HourWindowSeconds (env RateLimits__HourWindowSeconds): must be from 1 to 86400. Fix: leave it at 3600.")]
    public int HourWindowSeconds { get; set; } = 3600;

    /// <summary>
    /// The decision budget: a Redis decision slower than this counts as a failure and the request is decided as if
    /// Redis were down (fail-open: in memory; fail-closed: 503). A hung Redis (frozen, partitioned, failing over)
    /// costs a request at most this; after a few such failures within twice this time the circuit opens and
    /// decisions stay local without waiting. Measured from the app's side, so it includes local queueing under a burst.
    /// </summary>
    [Range(10, 60_000, ErrorMessage = "RateLimits:RedisTimeoutMilliseconds (env RateLimits__RedisTimeoutMilliseconds): must be from 10 to 60000. Fix: e.g. 250.")]
    public int RedisTimeoutMilliseconds { get; set; } = 250;

    /// <summary>After Redis failures, how long the circuit stays open (no Redis calls at all) before one probe.</summary>
    [Range(1, 600, ErrorMessage = "RateLimits:BreakSeconds (env RateLimits__BreakSeconds): must be from 1 to 600. Fix: e.g. 5.")]
    public int BreakSeconds { get; set; } = 5;

    /// <summary>While falling back, the warning is logged at most once per this interval.</summary>
    [Range(1, 86_400, ErrorMessage = "RateLimits:FallbackWarningIntervalSeconds (env RateLimits__FallbackWarningIntervalSeconds): must be from 1 to 86400. Fix: e.g. 60.")]
    public int FallbackWarningIntervalSeconds { get; set; } = 60;

    public sealed class PolicyOptions
    {
        public int? PerMinute { get; set; }
        public int? PerHour { get; set; }
        public FailureMode? FailureMode { get; set; }

        /// <summary>Count and log what would be rejected, but reject nothing: for rolling out a new limit safely.</summary>
        public bool Monitor { get; set; }
    }

    public sealed class AllowlistOptions
    {
        /// <summary>Comma-separated IPs or CIDR networks never limited (e.g. 10.0.0.0/8, 203.0.113.7).</summary>
        public string Networks { get; set; } = "";

        /// <summary>Comma-separated API key ids never limited.</summary>
        public string ApiKeyIds { get; set; } = "";
    }

    public sealed class LimitOverride
    {
        public int? PerMinute { get; set; }
        public int? PerHour { get; set; }
    }
}

public sealed class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
    {
        var failures = new List<string>();
        foreach (var (policy, settings) in options.Policies)
        {
            if (!RateLimitPolicies.Names.Contains(policy, StringComparer.OrdinalIgnoreCase))
            {
                failures.Add(Problem($"RateLimits:Policies:{policy}", $"names an unknown policy; known: {string.Join(", ", RateLimitPolicies.Names)}.", "fix the policy name or remove the section."));
            }
            if (settings.PerMinute is < 1 || settings.PerHour is < 1)
            {
                failures.Add(Problem($"RateLimits:Policies:{policy}", "has a limit below 1.", "use positive limits, or leave them unset for the defaults."));
            }
        }
        foreach (var (client, limits) in options.Overrides)
        {
            if (limits.PerMinute is < 1 || limits.PerHour is < 1)
            {
                failures.Add(Problem($"RateLimits:Overrides:{client}", "has a limit below 1.", "use positive limits; allowlist the client to exempt it."));
            }
        }
        foreach (var network in SettingLists.InvalidNetworks(options.Allowlist.Networks))
        {
            failures.Add(Problem("RateLimits:Allowlist:Networks", $"'{network}' is neither an IP address nor a CIDR network.", "write entries like 10.0.0.0/8 or 203.0.113.7."));
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Problem(string setting, string rule, string fix) =>
        new StartupProblem($"{setting} (env {setting.Replace(":", "__")})", rule, fix).ToString();
}
