using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Polly.CircuitBreaker;
using Polly.Timeout;
using Service.Infrastructure.Resilience;

namespace Service.Tests.Infrastructure.Resilience;

/// <summary>The shared pipeline shape: retries only where asked, a breaker that fails fast, state changes counted.</summary>
public sealed class DependencyPipelinesTests
{
    // A name of the test's own: the meter listener also hears the circuits of test hosts running in parallel.
    private readonly string _dependency = $"test-{Guid.NewGuid():N}";

    private DependencyPolicy Policy(int retries = 0, int timeoutMs = 1000) => new(_dependency, TimeSpan.FromMilliseconds(timeoutMs),
        TimeSpan.FromSeconds(1), MinimumThroughput: 2, (e, _) => e is IOException, retries);

    [Fact]
    public async Task Failures_open_the_circuit_which_then_fails_at_once_and_closes_after_the_break()
    {
        using var pipelines = new DependencyPipelines(NullLogger<DependencyPipelines>.Instance);
        var changes = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) => { if (i.Name == "circuit.state_changes") l.EnableMeasurementEvents(i); };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? dependency = null, state = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "dependency") dependency = (string?)tag.Value;
                if (tag.Key == "state") state = (string?)tag.Value;
            }
            if (dependency == _dependency) lock (changes) changes.Add(state!);
        });
        listener.Start();
        var circuit = new CircuitBreakerStateProvider();
        var pipeline = pipelines.Build(Policy(), circuit);
        var calls = 0;

        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<IOException>(() => pipeline.ExecuteAsync<int>(_ => { calls++; throw new IOException("down"); }).AsTask());
        }
        var refused = await Assert.ThrowsAsync<BrokenCircuitException>(() => pipeline.ExecuteAsync(_ => { calls++; return ValueTask.FromResult(1); }).AsTask());

        Assert.Equal(2, calls); // the third call never reached the dependency
        Assert.NotNull(refused.RetryAfter);
        Assert.Equal(CircuitState.Open, circuit.CircuitState);
        await Task.Delay(1100);
        Assert.Equal(7, await pipeline.ExecuteAsync(_ => ValueTask.FromResult(7)));
        Assert.Equal(CircuitState.Closed, circuit.CircuitState);
        lock (changes) Assert.Equal(["open", "half_open", "closed"], changes.ToArray());
    }

    [Fact]
    public async Task Only_idempotent_policies_retry_and_only_dependency_failures()
    {
        using var pipelines = new DependencyPipelines(NullLogger<DependencyPipelines>.Instance);
        var once = pipelines.Build(Policy(retries: 0), new CircuitBreakerStateProvider());
        var retried = pipelines.Build(Policy(retries: 2) with { MinimumThroughput = 100 }, new CircuitBreakerStateProvider());
        var attempts = 0;

        await Assert.ThrowsAsync<IOException>(() => once.ExecuteAsync<int>(_ => { attempts++; throw new IOException(); }).AsTask());
        Assert.Equal(1, attempts);

        attempts = 0;
        Assert.Equal(3, await retried.ExecuteAsync(_ => ++attempts < 3 ? throw new IOException() : ValueTask.FromResult(attempts)));

        attempts = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => retried.ExecuteAsync<int>(_ => { attempts++; throw new InvalidOperationException("a bug, not an outage"); }).AsTask());
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task Each_attempt_is_bounded_by_the_timeout()
    {
        using var pipelines = new DependencyPipelines(NullLogger<DependencyPipelines>.Instance);
        var pipeline = pipelines.Build(Policy(timeoutMs: 100), new CircuitBreakerStateProvider());

        await Assert.ThrowsAsync<TimeoutRejectedException>(() => pipeline.ExecuteAsync(async token => { await Task.Delay(5000, token); return 1; }).AsTask());
    }
}
