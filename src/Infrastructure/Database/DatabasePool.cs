using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Database;

/// <param name="BusyRatio">Busy connections over the pool's maximum: 1 means every request needing the database waits.</param>
public sealed record DatabasePoolStatistics(string PoolName, int MinSize, int MaxSize, long Busy, long Idle, long Waiters, double BusyRatio);

/// <summary>
/// The app's connection pool as Npgsql reports it through its own metrics (meter "Npgsql": connection counts by
/// state, pending requests), read on demand for this process's pool only (it has a name of its own).
/// </summary>
public sealed class DatabasePool : IDisposable
{
    public const double DegradedRatio = 0.9;
    private readonly MeterListener _listener = new();
    private readonly IOptions<DatabaseOptions> _options;
    private readonly Lock _read = new();
    private long _busy, _idle, _waiters;
    private long _waitersRunning; // pending_requests is a plain up-down counter: a running sum since the listener started

    public DatabasePool(IOptions<DatabaseOptions> options)
    {
        _options = options;
        Name = $"workflow-service-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name is "db.client.connection.count" or "db.client.connection.npgsql.pending_requests")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The data source's name, which Npgsql puts on its metrics as db.client.connection.pool.name.</summary>
    public string Name { get; }

    public DatabasePoolStatistics Read()
    {
        lock (_read)
        {
            (_busy, _idle, _waiters) = (0, 0, 0);
            _listener.RecordObservableInstruments();
            var settings = _options.Value.Pool;
            var waiters = _waiters + Interlocked.Read(ref _waitersRunning);
            return new DatabasePoolStatistics(Name, settings.MinSize, settings.MaxSize, _busy, _idle, waiters,
                Math.Round((double)_busy / settings.MaxSize, 3));
        }
    }

    private void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? pool = null, state = null;
        foreach (var tag in tags)
        {
            if (tag.Key == "db.client.connection.pool.name") pool = tag.Value as string;
            else if (tag.Key == "db.client.connection.state") state = tag.Value as string;
        }
        if (pool != Name) return;
        if (instrument.Name == "db.client.connection.npgsql.pending_requests")
        {
            if (instrument.IsObservable) _waiters += value;
            else Interlocked.Add(ref _waitersRunning, value);
        }
        else if (state == "used") _busy += value;
        else if (state == "idle") _idle += value;
    }

    public void Dispose() => _listener.Dispose();
}

/// <summary>Degraded (still ready) once the pool is at least 90 % busy: requests are about to queue for connections.</summary>
public sealed class DatabasePoolHealthCheck(DatabasePool pool) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        var stats = pool.Read();
        var summary = $"{stats.Busy} busy, {stats.Idle} idle of at most {stats.MaxSize}, {stats.Waiters} waiting";
        return Task.FromResult(stats.BusyRatio >= DatabasePool.DegradedRatio ? HealthCheckResult.Degraded(summary) : HealthCheckResult.Healthy(summary));
    }
}
