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

    public async Task<HealthReport> GetReportAsync(CancellationToken cancellationToken)
    {
        Task<HealthReport> running;
        lock (_gate)
        {
            if (_last is not null && time.GetElapsedTime(_lastAt).TotalMilliseconds < options.Value.CacheMilliseconds)
            {
                return _last;
            }
            running = _running ??= RunAsync();
        }

        // Checks run concurrently, each cancelled at its timeout. A check that ignores its token must still not
        // hang the probe: past twice the timeout the answer is Unhealthy while the shared run finishes on its own.
        var limit = TimeSpan.FromMilliseconds(options.Value.CheckTimeoutMilliseconds * 2);
        try
        {
            // A caller that gives up does not cancel the shared run.
            return await running.WaitAsync(limit, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            var entry = new HealthReportEntry(HealthStatus.Unhealthy, "checks did not finish in time", limit, null, null);
            return new HealthReport(new Dictionary<string, HealthReportEntry> { ["probe"] = entry }, limit);
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
