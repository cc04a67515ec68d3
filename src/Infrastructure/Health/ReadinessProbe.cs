using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Health;

/// <summary>
/// Runs the "ready" checks at most once per Health:CacheMilliseconds, and only once at a time: a storm of probes
/// shares one run, so it cannot hammer the database. Each check has its own timeout (Health:CheckTimeoutMilliseconds).
/// </summary>
public sealed class ReadinessProbe(HealthCheckService health, IOptions<HealthOptions> options, TimeProvider time)
{
    public const string Tag = "ready";

    private readonly Lock _gate = new();
    private Task<HealthReport>? _running;
    private HealthReport? _last;
    private long _lastAt;

    public Task<HealthReport> GetReportAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_last is not null && time.GetElapsedTime(_lastAt).TotalMilliseconds < options.Value.CacheMilliseconds)
            {
                return Task.FromResult(_last);
            }
            _running ??= RunAsync();
            // A caller that gives up does not cancel the shared run.
            return _running.WaitAsync(cancellationToken);
        }
    }

    private async Task<HealthReport> RunAsync()
    {
        await Task.Yield(); // let the caller publish _running before this can complete
        try
        {
            var report = await health.CheckHealthAsync(r => r.Tags.Contains(Tag), CancellationToken.None);
            lock (_gate)
            {
                _last = report;
                _lastAt = time.GetTimestamp();
            }
            return report;
        }
        finally
        {
            lock (_gate) _running = null;
        }
    }
}
