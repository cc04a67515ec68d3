using System.Diagnostics;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Health;

/// <summary>
/// Readiness follows real outages: a Redis and an s3rver of this class's own are stopped and started again, and
/// PostgreSQL is cut off behind a TCP proxy. Liveness stays 200 throughout and no probe outlives its timeout.
/// </summary>
public sealed class ReadinessOutageTests : IClassFixture<ReadinessOutageTests.Factory>
{
    private const int CheckTimeoutMs = 1000;

    public sealed class Factory : ServiceFactory
    {
        public LocalServer Redis { get; } = LocalServer.Redis();
        public LocalServer S3 { get; } = LocalServer.S3(TestServers.S3Bucket);
        public TcpProxy Postgres { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await Task.WhenAll(Redis.StartAsync(), S3.StartAsync());
            var admin = new Uri(TestServers.PostgresAdminUrl);
            Postgres = new TcpProxy(admin.Host, admin.Port);
            Settings["Database:Url"] = $"postgres://postgres@127.0.0.1:{Postgres.Port}/{DatabaseName}";
            Settings["Database:ConnectTimeoutSeconds"] = "1";
            Settings["Redis:Url"] = $"redis://127.0.0.1:{Redis.Port}";
            Settings["Storage:ServiceUrl"] = $"http://127.0.0.1:{S3.Port}";
            Settings["Health:CheckTimeoutMilliseconds"] = CheckTimeoutMs.ToString();
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            await Redis.DisposeAsync();
            await S3.DisposeAsync();
            if (Postgres is not null) await Postgres.DisposeAsync();
        }
    }

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public ReadinessOutageTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    // Without Redis requests are still served (rate limits fall back per policy): Degraded, and traffic stays.
    [Fact]
    public Task Redis_stopped_then_started() => OutageAsync("redis", HttpStatusCode.OK, "Degraded", _factory.Redis.StopAsync, _factory.Redis.StartAsync);

    [Fact]
    public Task S3_server_stopped_then_started() => OutageAsync("s3", HttpStatusCode.ServiceUnavailable, "Unhealthy", _factory.S3.StopAsync, _factory.S3.StartAsync);

    [Fact]
    public Task Postgres_unreachable_then_back() => OutageAsync("postgres", HttpStatusCode.ServiceUnavailable, "Unhealthy",
        () => { _factory.Postgres.Cut(); return Task.CompletedTask; },
        () => { _factory.Postgres.Restore(); return Task.CompletedTask; });

    private async Task OutageAsync(string check, HttpStatusCode downStatus, string downCheckStatus, Func<Task> stop, Func<Task> start)
    {
        await WaitForReadyAsync(HttpStatusCode.OK, check, "Healthy");

        await stop();
        try
        {
            var down = await WaitForReadyAsync(downStatus, check, downCheckStatus);
            Assert.Equal(downCheckStatus, down.GetProperty("status").GetString());
            Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/live")).StatusCode);
            var text = down.ToString();
            Assert.DoesNotContain("postgres://", text);
            Assert.DoesNotContain("Exception:", text);
        }
        finally
        {
            await start();
        }

        await WaitForReadyAsync(HttpStatusCode.OK, check, "Healthy");
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/live")).StatusCode);
    }

    /// <summary>Polls readiness until <paramref name="check"/> shows the wanted state, asserting every probe answers within its timeout.</summary>
    private async Task<JsonElement> WaitForReadyAsync(HttpStatusCode status, string check, string checkStatus)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement body = default;
        while (DateTime.UtcNow < deadline)
        {
            var watch = Stopwatch.StartNew();
            var response = await _client.GetAsync("/health/ready");
            body = await response.Content.ReadFromJsonAsync<JsonElement>();
            watch.Stop();
            Assert.True(watch.ElapsedMilliseconds < CheckTimeoutMs + 750, $"readiness took {watch.ElapsedMilliseconds} ms (check timeout {CheckTimeoutMs} ms): {body}");
            if (response.StatusCode == status && body.GetProperty("checks").GetProperty(check).GetProperty("status").GetString() == checkStatus)
            {
                return body;
            }
            await Task.Delay(200);
        }
        throw new Xunit.Sdk.XunitException($"readiness never reached {status} with {check} {checkStatus}; last: {body}");
    }
}
