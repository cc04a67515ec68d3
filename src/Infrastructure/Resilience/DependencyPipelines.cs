using System.Diagnostics.Metrics;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Service.Infrastructure.Resilience;

/// <summary>How one dependency's calls are guarded; the settings stay in each dependency's own section.</summary>
/// <param name="Timeout">Per attempt; null where the client enforces its own (PostgreSQL's command timeout).</param>
/// <param name="Retries">0 unless the calls are idempotent: retried with exponential, jittered backoff.</param>
/// <param name="Sampling">
/// The window in which failures are counted against MinimumThroughput (30 s if null, at least 0.5 s). To notice a
/// hang, keep it no longer than the timeout: calls fail only a timeout after they start, and successes from before
/// the hang must have left the window by then, or a busy service never reaches the failure ratio.
/// </param>
public sealed record DependencyPolicy(
    string Dependency, TimeSpan? Timeout, TimeSpan BreakDuration, int MinimumThroughput, Func<Exception, CancellationToken, bool> IsFailure,
    int Retries = 0, TimeSpan? Sampling = null);

/// <summary>
/// The one place the dependency pipelines are built: retry (only where idempotent) around a circuit breaker around
/// a timeout per attempt (where the caller does not bound its calls itself: PostgreSQL's command timeout, the rate
/// limiter's decision budget). A breaker opens when at least half of MinimumThroughput calls within the sampling window failed; while
/// open, calls fail at once with <see cref="BrokenCircuitException"/> (callers answer 503 with Retry-After or fall
/// back). Every state change is logged and counted (circuit.state_changes, by dependency and state).
/// </summary>
public sealed class DependencyPipelines(ILogger<DependencyPipelines> logger) : IDisposable
{
    private readonly Meter _meter = new("Service.Resilience");
    private Counter<long>? _stateChanges;

    public ResiliencePipeline Build(DependencyPolicy policy, CircuitBreakerStateProvider circuit)
    {
        _stateChanges ??= _meter.CreateCounter<long>("circuit.state_changes", "{change}", "Circuit breaker state changes, by dependency and new state");
        var builder = new ResiliencePipelineBuilder();
        if (policy.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = policy.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                // Not when the circuit is open: that failure is the answer.
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e and not BrokenCircuitException
                    && (e is TimeoutRejectedException || policy.IsFailure(e, args.Context.CancellationToken))),
            });
        }
        builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = policy.MinimumThroughput,
                SamplingDuration = policy.Sampling is { } sampling ? TimeSpan.FromMilliseconds(Math.Max(500, sampling.TotalMilliseconds)) : TimeSpan.FromSeconds(30),
                BreakDuration = policy.BreakDuration,
                StateProvider = circuit,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e
                    && (e is TimeoutRejectedException || policy.IsFailure(e, args.Context.CancellationToken))),
                OnOpened = args =>
                {
                    Changed(policy.Dependency, "open");
                    logger.LogWarning("{Dependency} circuit opened for {BreakSeconds} s after repeated failures ({Error}); calls fail at once meanwhile",
                        policy.Dependency, args.BreakDuration.TotalSeconds, args.Outcome.Exception?.GetType().Name);
                    return ValueTask.CompletedTask;
                },
                OnHalfOpened = _ =>
                {
                    Changed(policy.Dependency, "half_open");
                    logger.LogInformation("{Dependency} circuit half-open: trying one call", policy.Dependency);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    Changed(policy.Dependency, "closed");
                    logger.LogInformation("{Dependency} circuit closed: calls go through again", policy.Dependency);
                    return ValueTask.CompletedTask;
                },
            });
        if (policy.Timeout is { } timeout) builder.AddTimeout(timeout);
        return builder.Build();
    }

    private void Changed(string dependency, string state) =>
        _stateChanges!.Add(1, new KeyValuePair<string, object?>("dependency", dependency), new KeyValuePair<string, object?>("state", state));

    public void Dispose() => _meter.Dispose();
}
