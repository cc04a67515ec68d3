using System.Collections.Concurrent;
using System.Diagnostics;

namespace Service.Tests.Fixtures;

/// <summary>
/// A fixed number of clients sending one request after another, each outcome recorded with when it finished and how
/// long it took: enough to read throughput second by second while a dependency is frozen and thawed.
/// </summary>
public sealed class SteadyLoad
{
    public sealed record Outcome(TimeSpan FinishedAt, TimeSpan Latency, HttpStatusCode Status, string? RetryAfter);

    private readonly ConcurrentQueue<Outcome> _outcomes = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public TimeSpan Now => _clock.Elapsed;
    public IReadOnlyList<Outcome> Outcomes => _outcomes.OrderBy(o => o.FinishedAt).ToList();

    /// <summary>Runs <paramref name="clients"/> loops of <paramref name="send"/> until <paramref name="stop"/> is cancelled.</summary>
    public Task RunAsync(int clients, Func<CancellationToken, Task<HttpResponseMessage>> send, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = _clock.Elapsed;
                try
                {
                    using var response = await send(CancellationToken.None);
                    var retryAfter = response.Headers.TryGetValues("Retry-After", out var values) ? values.First() : null;
                    _outcomes.Enqueue(new Outcome(_clock.Elapsed, _clock.Elapsed - started, response.StatusCode, retryAfter));
                }
                catch (HttpRequestException)
                {
                    _outcomes.Enqueue(new Outcome(_clock.Elapsed, _clock.Elapsed - started, 0, null));
                }
            }
        })));

    /// <summary>
    /// Runs the load for <paramref name="before"/>, freezes <paramref name="server"/> for <paramref name="frozen"/>
    /// (running <paramref name="whileFrozen"/> meanwhile, from the moment it froze), thaws it and goes on for
    /// <paramref name="after"/>. Returns when the server froze and thawed, on this load's clock.
    /// </summary>
    public async Task<(TimeSpan FrozenAt, TimeSpan ThawedAt)> AcrossFreezeAsync(
        LocalServer server, int clients, Func<CancellationToken, Task<HttpResponseMessage>> send,
        TimeSpan before, TimeSpan frozen, TimeSpan after, Func<Task> whileFrozen)
    {
        using var stop = new CancellationTokenSource();
        var running = RunAsync(clients, send, stop.Token);
        await Task.Delay(before);
        var frozenAt = Now;
        server.Pause();
        TimeSpan thawedAt;
        try
        {
            await whileFrozen();
            if (frozenAt + frozen - Now is { } rest && rest > TimeSpan.Zero) await Task.Delay(rest);
        }
        finally
        {
            thawedAt = Now;
            server.Resume();
        }
        await Task.Delay(after);
        stop.Cancel();
        await running;
        return (frozenAt, thawedAt);
    }

    /// <summary>Completed requests per second, by whole second since the start, with how many answered 2xx.</summary>
    public IReadOnlyList<(int Second, int Completed, int Succeeded)> PerSecond() =>
        Outcomes.GroupBy(o => (int)o.FinishedAt.TotalSeconds).OrderBy(g => g.Key)
            .Select(g => (g.Key, g.Count(), g.Count(o => (int)o.Status is >= 200 and < 300))).ToList();

    /// <summary>Completed (or, with <paramref name="succeeded"/>, 2xx) requests per second between two instants.</summary>
    public double Rate(TimeSpan from, TimeSpan to, bool succeeded = false) =>
        Outcomes.Count(o => o.FinishedAt >= from && o.FinishedAt < to && (!succeeded || (int)o.Status is >= 200 and < 300)) / (to - from).TotalSeconds;

    public string Describe(params (string Label, TimeSpan At)[] marks) =>
        string.Join(Environment.NewLine, PerSecond().Select(s =>
            $"second {s.Second,2}: {s.Completed,5} completed, {s.Succeeded,5} 2xx{string.Concat(marks.Where(m => (int)m.At.TotalSeconds == s.Second).Select(m => $"  <- {m.Label}"))}"));
}
