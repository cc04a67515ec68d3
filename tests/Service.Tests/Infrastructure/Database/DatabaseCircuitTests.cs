using System.Diagnostics;
using Service.Tests.Fixtures;
using Xunit.Abstractions;

namespace Service.Tests.Infrastructure.Database;

/// <summary>
/// A PostgreSQL of this class's own is frozen with SIGSTOP (postmaster and backends) under steady load and thawed:
/// requests wait at most the request timeout, the circuit then answers 503 at once, probes and the OpenAPI document
/// keep working, and throughput comes back by itself. Runs alone: its latency bounds must not depend on neighbours.
/// </summary>
[Collection(LoadTests.Name)]
public sealed class DatabaseCircuitTests(DatabaseCircuitTests.Factory factory, ITestOutputHelper output) : IClassFixture<DatabaseCircuitTests.Factory>
{
    public const int RequestTimeoutSeconds = 3;

    public sealed class Factory() : PrivateServerFactory(LocalServer.Postgres(),
        ("Database:RequestTimeoutSeconds", $"{RequestTimeoutSeconds}"),
        ("Health:CheckTimeoutMilliseconds", "1000"));

    private static readonly TimeSpan Before = TimeSpan.FromSeconds(3), Hang = TimeSpan.FromSeconds(7), After = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_frozen_PostgreSQL_costs_at_most_the_request_timeout_then_503_at_once_and_recovers()
    {
        var user = await factory.SignUpAsync();
        var orgId = await user.CreateOrgAsync("Frozen");
        var anonymous = factory.CreateClient();
        for (var i = 0; i < 50; i++) await user.Client.GetAsync($"/api/v1/orgs/{orgId}"); // warm
        await anonymous.GetAsync("/openapi/v1.json"); // generated once, on first request

        var load = new SteadyLoad();
        HttpStatusCode live = default, ready = default, openApi = default;
        JsonElement problem = default;
        var (frozenAt, thawedAt) = await load.AcrossFreezeAsync(factory.Dependency, 8, token => user.Client.GetAsync($"/api/v1/orgs/{orgId}", token),
            Before, Hang, After, async () =>
            {
                await Task.Delay(TimeSpan.FromSeconds(RequestTimeoutSeconds + 1)); // the waiting requests time out, the circuit opens
                var probe = Stopwatch.StartNew();
                live = (await anonymous.GetAsync("/health/live")).StatusCode;
                openApi = (await anonymous.GetAsync("/openapi/v1.json")).StatusCode;
                Assert.True(probe.Elapsed < TimeSpan.FromMilliseconds(500), $"live probe and OpenAPI took {probe.Elapsed}");
                ready = (await anonymous.GetAsync("/health/ready")).StatusCode;
                var refused = await user.Client.GetAsync("/api/v1/auth/me");
                problem = await refused.ProblemAsync(HttpStatusCode.ServiceUnavailable);
                Assert.NotNull(refused.Headers.RetryAfter);
            });

        output.WriteLine(load.Describe(("frozen", frozenAt), ("thawed", thawedAt)));
        var outcomes = load.Outcomes;
        var before = load.Rate(TimeSpan.FromSeconds(1), frozenAt, succeeded: true);
        var frozen = outcomes.Where(o => o.FinishedAt > frozenAt && o.FinishedAt < thawedAt).ToList();
        var slowest = frozen.Max(o => o.Latency);
        // After the first timeouts, what the circuit answered: everything but its one half-open try per break.
        var refusals = frozen.Where(o => o.FinishedAt > frozenAt + TimeSpan.FromSeconds(RequestTimeoutSeconds + 0.5) && o.Status == HttpStatusCode.ServiceUnavailable)
            .Select(o => o.Latency.TotalMilliseconds).Order().ToList();
        var firstOk = outcomes.FirstOrDefault(o => o.FinishedAt > thawedAt && o.Status == HttpStatusCode.OK);
        var recovered = load.Rate(thawedAt + TimeSpan.FromSeconds(2), thawedAt + TimeSpan.FromSeconds(3), succeeded: true);
        output.WriteLine($"2xx/s before {before:F0}; while frozen {frozen.Count} answers ({frozen.Count(o => o.Status == HttpStatusCode.ServiceUnavailable)} 503), " +
            $"slowest {slowest.TotalMilliseconds:F0} ms, circuit refusals {refusals.Count} with median {Median(refusals):F1} ms and p99 {Percentile(refusals, 0.99):F1} ms; " +
            $"first 200 {(firstOk is null ? "never" : $"{(firstOk.FinishedAt - thawedAt).TotalMilliseconds:F0} ms")} after thawing; 2xx/s in the third second after {recovered:F0} ({recovered / before:F2})");

        Assert.Equal(HttpStatusCode.OK, live);
        Assert.Equal(HttpStatusCode.OK, openApi);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready);
        Assert.Equal("Database unavailable", problem.GetProperty("title").GetString());
        Assert.All(frozen, o => Assert.True(o.Status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.OK, $"{o.Status} while frozen"));
        Assert.All(frozen.Where(o => o.Status == HttpStatusCode.ServiceUnavailable), o => Assert.NotNull(o.RetryAfter));
        Assert.True(slowest < TimeSpan.FromSeconds(RequestTimeoutSeconds + 0.5), $"a request waited {slowest} (request timeout {RequestTimeoutSeconds} s)");
        Assert.True(refusals.Count > 100, $"only {refusals.Count} fast refusals while the circuit was open");
        Assert.True(Percentile(refusals, 0.99) < 50, $"circuit refusals took {Percentile(refusals, 0.99):F1} ms (p99)");
        Assert.NotNull(firstOk);
        Assert.True(firstOk.FinishedAt - thawedAt < TimeSpan.FromSeconds(2), $"first 200 {firstOk.FinishedAt - thawedAt} after thawing");
        // Recovery, not a throughput target (the output reports the figure; runs here drift by a third on their own).
        Assert.True(recovered >= 0.3 * before, $"2xx/s in the third second after thawing {recovered:F0} against {before:F0} before");
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode);
    }

    private static double Median(IReadOnlyList<double> sorted) => Percentile(sorted, 0.5);

    private static double Percentile(IReadOnlyList<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, p * sorted.Count)];
}
