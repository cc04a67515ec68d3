using Microsoft.Extensions.Options;
using Service.Infrastructure.Http;

namespace Service.Infrastructure.Health;

/// <summary>
/// On SIGTERM, before the server stops accepting requests: readiness turns 503 and the service keeps serving for
/// Http:ShutdownDelaySeconds, so load balancers take the instance out of rotation first. Kestrel then lets
/// in-flight requests finish within Http:ShutdownTimeoutSeconds.
/// </summary>
public sealed partial class ShutdownDrain(IOptions<HttpOptions> options, ILogger<ShutdownDrain> logger) : IHostedLifecycleService
{
    private volatile bool _draining;

    public bool IsDraining => _draining;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        var delay = TimeSpan.FromSeconds(options.Value.ShutdownDelaySeconds);
        LogDraining(logger, delay.TotalSeconds);
        if (delay > TimeSpan.Zero)
        {
            try { await Task.Delay(delay, cancellationToken); }
            catch (OperationCanceledException) { /* the host's shutdown timeout ran out: stop now */ }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(LogLevel.Information, "Shutting down: readiness now answers 503; serving for {DelaySeconds} s more before closing")]
    private static partial void LogDraining(ILogger logger, double delaySeconds);
}
