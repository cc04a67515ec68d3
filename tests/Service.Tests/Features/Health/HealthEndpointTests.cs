using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Service.Infrastructure.Health;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Health;

public sealed class HealthEndpointTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task Liveness_is_200()
    {
        var body = await _client.GetFromJsonAsync<JsonElement>("/health/live");

        Assert.Equal("Healthy", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Readiness_reports_each_dependency_with_status_duration_and_description()
    {
        var response = await _client.GetAsync("/health/ready");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        Assert.True(body.GetProperty("totalDurationMs").GetDouble() >= 0);
        var checks = body.GetProperty("checks");
        foreach (var name in new[] { "postgres", "redis", "s3", "migrations", "database_pool" })
        {
            var check = checks.GetProperty(name);
            Assert.Equal("Healthy", check.GetProperty("status").GetString());
            Assert.True(check.GetProperty("durationMs").GetDouble() >= 0);
            Assert.False(string.IsNullOrEmpty(check.GetProperty("description").GetString()));
        }
    }

    [Fact]
    public async Task Migrations_lists_applied_and_pending()
    {
        var body = await _client.GetFromJsonAsync<JsonElement>("/health/migrations");

        Assert.True(body.GetProperty("upToDate").GetBoolean());
        var first = body.GetProperty("applied")[0];
        Assert.Equal(1, first.GetProperty("version").GetInt64());
        Assert.Equal("initial", first.GetProperty("name").GetString());
        Assert.Equal(0, body.GetProperty("pending").GetArrayLength());
    }
}

/// <summary>A probe storm shares one run of the checks; results are reused for the cache period; a hung check times out.</summary>
public sealed class ReadinessProbeTests : IClassFixture<ReadinessProbeTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public int SlowCheckRuns;
        public volatile bool Hang;

        public Factory()
        {
            // Long enough that a storm of probes finishes inside one cache period even on a loaded CI machine.
            Settings["Health:CacheMilliseconds"] = "3000";
            Settings["Health:CheckTimeoutMilliseconds"] = "500";
        }

        protected override void ConfigureTestServices(IServiceCollection services)
        {
            services.AddHealthChecks().AddAsyncCheck("slow", async ct =>
            {
                Interlocked.Increment(ref SlowCheckRuns);
                await Task.Delay(Hang ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(200), ct);
                return HealthCheckResult.Healthy("slow but fine");
            }, tags: [ReadinessProbe.Tag]);
        }
    }

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public ReadinessProbeTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    [Fact]
    public async Task A_storm_of_probes_runs_the_checks_once_and_later_probes_within_the_cache_period_reuse_it()
    {
        await Task.Delay(3100); // past anything cached by an earlier test
        var before = _factory.SlowCheckRuns;

        var storm = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => _client.GetAsync("/health/ready")));
        Assert.All(storm, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(before + 1, _factory.SlowCheckRuns);

        await _client.GetAsync("/health/ready");
        Assert.Equal(before + 1, _factory.SlowCheckRuns);

        await Task.Delay(3100);
        await _client.GetAsync("/health/ready");
        Assert.Equal(before + 2, _factory.SlowCheckRuns);
    }

    [Fact]
    public async Task A_hung_check_is_reported_as_timed_out_within_its_timeout()
    {
        await Task.Delay(3100);
        _factory.Hang = true;
        try
        {
            var watch = Stopwatch.StartNew();
            var response = await _client.GetAsync("/health/ready");
            watch.Stop();
            var slow = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks").GetProperty("slow");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("Unhealthy", slow.GetProperty("status").GetString());
            Assert.Equal("timed out", slow.GetProperty("description").GetString());
            // The design bound is 1 s (twice the check timeout); the margin absorbs a loaded CI machine. Without the
            // timeout the probe would never answer.
            Assert.True(watch.ElapsedMilliseconds < 2000, $"probe took {watch.ElapsedMilliseconds} ms with a 500 ms check timeout");
        }
        finally
        {
            _factory.Hang = false;
            await Task.Delay(3100);
        }
    }
}
