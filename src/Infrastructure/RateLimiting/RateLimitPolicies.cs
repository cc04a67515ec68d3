namespace Service.Infrastructure.RateLimiting;

/// <summary>Marks an endpoint or group with the named policy; endpoints without one are limited as "api".</summary>
public sealed record RateLimitPolicyMetadata(string Name);

/// <summary>A policy resolved for one request: its limits, whether Redis failures fail open, and monitor mode.</summary>
public sealed record ResolvedPolicy(string Name, int PerMinute, int PerHour, FailureMode FailureMode, bool Monitor);

public static class RateLimitPolicies
{
    /// <summary>login, register, refresh, account deletion: strict, keyed by client IP and by target account; fails closed.</summary>
    public const string Auth = "auth";

    /// <summary>event ingest: high, keyed by API key.</summary>
    public const string Ingest = "ingest";

    /// <summary>uploads: keyed by user or API key.</summary>
    public const string Uploads = "uploads";

    /// <summary>account exports: few and heavy, keyed by user; fails closed.</summary>
    public const string Exports = "exports";

    /// <summary>everything else, keyed by user id (or API key, or IP); the global per-minute/per-hour defaults.</summary>
    public const string Api = "api";

    public static readonly string[] Names = [Auth, Ingest, Uploads, Exports, Api];

    public static TBuilder RequireRateLimit<TBuilder>(this TBuilder builder, string policy) where TBuilder : IEndpointConventionBuilder
    {
        if (!Names.Contains(policy)) throw new ArgumentException($"unknown rate-limit policy '{policy}'", nameof(policy));
        return builder.WithMetadata(new RateLimitPolicyMetadata(policy));
    }

    public static ResolvedPolicy Resolve(string name, RateLimitOptions options)
    {
        var (minute, hour, mode) = name switch
        {
            Auth => (10, 100, FailureMode.FailClosed),
            Ingest => (600, 20_000, FailureMode.FailOpen),
            Uploads => (60, 1_000, FailureMode.FailOpen),
            Exports => (2, 10, FailureMode.FailClosed),
            _ => (options.PerMinute, options.PerHour, FailureMode.FailOpen),
        };
        options.Policies.TryGetValue(name, out var configured);
        return new ResolvedPolicy(name, configured?.PerMinute ?? minute, configured?.PerHour ?? hour, configured?.FailureMode ?? mode, configured?.Monitor ?? false);
    }
}
