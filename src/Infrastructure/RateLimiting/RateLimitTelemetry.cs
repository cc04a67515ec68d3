using System.Diagnostics.Metrics;

namespace Service.Infrastructure.RateLimiting;

/// <summary>
/// Counters of rate-limit outcomes, published on the "Service.RateLimiting" meter and kept as totals for the
/// readiness report: rejections, monitor-mode would-be rejections, fallback decisions, fail-closed refusals.
/// </summary>
public sealed class RateLimitTelemetry : IDisposable
{
    public const string MeterName = "Service.RateLimiting";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _monitored;
    private readonly Counter<long> _fallback;
    private readonly Counter<long> _unavailable;
    private long _fallbackTotal;
    private long _unavailableTotal;

    public RateLimitTelemetry()
    {
        _rejected = _meter.CreateCounter<long>("ratelimit.rejected", description: "Requests refused with 429, by policy");
        _monitored = _meter.CreateCounter<long>("ratelimit.monitor_would_reject", description: "Requests a monitor-mode policy let through over its limit");
        _fallback = _meter.CreateCounter<long>("ratelimit.fallback_decisions", description: "Decisions made in memory because Redis was unreachable (fail-open)");
        _unavailable = _meter.CreateCounter<long>("ratelimit.unavailable", description: "Requests refused with 503 because Redis was unreachable (fail-closed)");
    }

    public long FallbackDecisions => Interlocked.Read(ref _fallbackTotal);
    public long UnavailableRefusals => Interlocked.Read(ref _unavailableTotal);

    public void Rejected(string policy) => _rejected.Add(1, new KeyValuePair<string, object?>("policy", policy));
    public void MonitorWouldReject(string policy) => _monitored.Add(1, new KeyValuePair<string, object?>("policy", policy));

    public void Fallback(string policy)
    {
        Interlocked.Increment(ref _fallbackTotal);
        _fallback.Add(1, new KeyValuePair<string, object?>("policy", policy));
    }

    public void Unavailable(string policy)
    {
        Interlocked.Increment(ref _unavailableTotal);
        _unavailable.Add(1, new KeyValuePair<string, object?>("policy", policy));
    }

    public void Dispose() => _meter.Dispose();
}
