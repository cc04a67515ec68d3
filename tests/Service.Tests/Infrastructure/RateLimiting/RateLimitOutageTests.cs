using Microsoft.Extensions.DependencyInjection;
using Service.Infrastructure.RateLimiting;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.RateLimiting;

/// <summary>A Redis of this class's own is stopped mid-test and started again.</summary>
public sealed class RateLimitOutageTests : IClassFixture<RateLimitOutageTests.Factory>
{
    public sealed class Factory() : PrivateServerFactory(LocalServer.Redis(),
        ("RateLimits:PerMinute", "5"),
        ("RateLimits:Policies:auth:PerMinute", "1000"),
        ("RateLimits:BreakSeconds", "1"),
        ("RateLimits:FallbackWarningIntervalSeconds", "3600"));

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public RateLimitOutageTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    private Task<HttpResponseMessage> LoginAsync() =>
        _client.PostAsJsonAsync("/api/v1/auth/login", new { email = "nobody@example.com", password = "wrong password!" });

    [Fact]
    public async Task Without_Redis_fail_open_policies_keep_local_limits_fail_closed_ones_answer_503_and_all_recovers()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync()).StatusCode);
        await Limited.StartWellInsideWindowAsync();
        await _factory.Dependency.StopAsync();
        try
        {
            // Fail-open ("api"): served, within the same limits, decided in this instance's memory.
            var ip = Limited.NewIp();
            var during = new List<HttpResponseMessage>();
            for (var i = 0; i < 8; i++) during.Add(await _client.GetAsAsync("/test/ping", ip));
            Assert.Equal(5, during.Count(r => r.StatusCode == HttpStatusCode.OK));
            Assert.Equal(3, during.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
            Assert.All(during, r => Assert.True(r.Headers.Contains("RateLimit-Policy")));

            // Fail-closed ("auth"): 503 with Retry-After, never a 500.
            var login = await LoginAsync();
            var problem = await login.ProblemAsync(HttpStatusCode.ServiceUnavailable);
            Assert.Equal("auth", problem.GetProperty("policy").GetString());
            Assert.NotNull(login.Headers.RetryAfter);

            // The circuit opens once it has seen enough failures (10 calls within its sampling window, twice the decision budget).
            for (var i = 0; i < 10; i++) await _client.GetAsAsync("/test/ping", Limited.NewIp());

            // Readiness keeps the instance in rotation and says why it is degraded.
            var ready = await _client.GetAsync("/health/ready");
            var checks = (await ready.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("Degraded", checks.GetProperty("redis").GetProperty("status").GetString());
            Assert.Equal("Degraded", checks.GetProperty("rate_limiting").GetProperty("status").GetString());
            var telemetry = _factory.Services.GetRequiredService<RateLimitTelemetry>();
            Assert.True(telemetry.FallbackDecisions >= 8);
            Assert.True(telemetry.UnavailableRefusals >= 1);
            Assert.Single(_factory.Logs.Lines, l => l.Level == LogLevel.Warning && l.Message.StartsWith("Rate limiting cannot reach Redis"));
            Assert.DoesNotContain(_factory.Logs.Lines, l => l.Level >= LogLevel.Error);
        }
        finally
        {
            await _factory.Dependency.StartAsync();
        }

        // Recovery needs no restart: once the circuit's break is over, decisions go to Redis again.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode status;
        do
        {
            await Task.Delay(500);
            status = (await LoginAsync()).StatusCode;
        }
        while (status != HttpStatusCode.Unauthorized && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        var after = await _client.GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("Healthy", after.GetProperty("checks").GetProperty("rate_limiting").GetProperty("status").GetString());
    }
}

/// <summary>The Redis script and the in-memory fallback implement one algorithm: same inputs, same answers.</summary>
public sealed class SlidingWindowParityTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Redis_and_memory_stores_decide_alike()
    {
        var redis = factory.Services.GetRequiredService<RedisWindowStore>();
        var local = new LocalWindowStore(TimeProvider.System);
        WindowLimit[] limits = [new("minute", 7, 60), new("hour", 9, 3600)];
        var keys = new[] { $"parity-{Guid.NewGuid():N}:a", $"parity-{Guid.NewGuid():N}:b" };

        for (var i = 0; i < 12; i++)
        {
            var fromRedis = await redis.DecideAsync(keys, limits, monitor: false, CancellationToken.None);
            var fromMemory = local.Decide(keys, limits, monitor: false);
            Assert.Equal(fromMemory.Allowed, fromRedis.Allowed);
            Assert.Equal(fromMemory.Windows.Select(w => w.Remaining), fromRedis.Windows.Select(w => w.Remaining));
            Assert.Equal(i < 7, fromRedis.Allowed);
        }
    }

    [Fact]
    public async Task A_flushed_script_cache_is_reloaded()
    {
        var redis = factory.Services.GetRequiredService<RedisWindowStore>();
        WindowLimit[] limits = [new("minute", 5, 60)];
        var key = $"flush-{Guid.NewGuid():N}";

        await redis.DecideAsync([key], limits, false, CancellationToken.None);
        var admin = Service.Infrastructure.Redis.RedisUrl.Parse(TestServers.RedisUrl);
        admin.AllowAdmin = true; // SCRIPT FLUSH is an admin command for this client
        using (var multiplexer = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(admin))
        {
            foreach (var endpoint in multiplexer.GetEndPoints()) await multiplexer.GetServer(endpoint).ScriptFlushAsync();
        }
        var decision = await redis.DecideAsync([key], limits, false, CancellationToken.None);

        Assert.True(decision.Allowed);
        Assert.Equal(3, decision.Windows[0].Remaining);
    }
}
