using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.RateLimiting;

internal static class Limited
{
    /// <summary>A request from its own client IP (through the trusted loopback proxy), so each test has its own budget.</summary>
    public static Task<HttpResponseMessage> GetAsAsync(this HttpClient client, string path, string ip, string? apiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Forwarded-For", ip);
        if (apiKey is not null) request.Headers.Add("X-Api-Key", apiKey);
        return client.SendAsync(request);
    }

    private static int _next;

    public static string NewIp() => $"198.51.{Interlocked.Increment(ref _next) / 250 % 250}.{Interlocked.Increment(ref _next) % 250 + 1}";

    public static int Header(this HttpResponseMessage response, string name) => int.Parse(response.Headers.GetValues(name).Single());

    /// <summary>
    /// Waits until at least <paramref name="needed"/> seconds remain in the current <paramref name="window"/>-second
    /// window (Redis and the tests share this machine's clock). Counts that cross a window boundary are legitimately
    /// inexact for a sliding window (the previous window starts to fade), so exact-count tests start well inside one.
    /// </summary>
    public static async Task StartWellInsideWindowAsync(int window = 60, double needed = 15)
    {
        while (window - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 % window < needed) await Task.Delay(50);
    }
}

/// <summary>Thousands of concurrent requests: alone on the machine, so no other class's timing assertions suffer.</summary>
[Collection(LoadTests.Name)]
public sealed class RateLimitExactnessTests : IClassFixture<RateLimitExactnessTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["RateLimits:PerMinute"] = "500";
            Settings["RateLimits:PerHour"] = "100000";
            // 2,000 requests started at once in-process on 2 cores queue seconds of work ahead of Redis' answers
            // (measured p99 ~3.4 s); this test is about exactness, so no decision may time out into the fallback.
            Settings["RateLimits:RedisTimeoutMilliseconds"] = "30000";
        }
    }

    private readonly Factory _factory;

    public RateLimitExactnessTests(Factory factory) => _factory = factory;

    [Fact]
    public async Task Two_thousand_concurrent_requests_against_a_limit_of_500_let_exactly_500_through()
    {
        var client = _factory.CreateClient();
        var ip = Limited.NewIp();
        await Limited.StartWellInsideWindowAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => client.GetAsAsync("/test/ping", ip)));
        Assert.Equal(0, _factory.Services.GetRequiredService<Service.Infrastructure.RateLimiting.RateLimitTelemetry>().FallbackDecisions);

        Assert.Equal(500, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(1500, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Two_instances_sharing_Redis_enforce_one_global_limit()
    {
        // A second host of the same deployment: same Redis, same key prefix, its own process state.
        await using var second = await _factory.AnotherInstanceAsync();
        var clients = new[] { _factory.CreateClient(), second.CreateClient() };
        var ip = Limited.NewIp();
        await Limited.StartWellInsideWindowAsync();

        // 64 in flight at a time, alternating hosts: this is about the limit being shared, not about bursts.
        using var gate = new SemaphoreSlim(64);
        var responses = await Task.WhenAll(Enumerable.Range(0, 1200).Select(async i =>
        {
            await gate.WaitAsync();
            try { return await clients[i % 2].GetAsAsync("/test/ping", ip); }
            finally { gate.Release(); }
        }));

        Assert.Equal(500, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(0, second.Services.GetRequiredService<Service.Infrastructure.RateLimiting.RateLimitTelemetry>().FallbackDecisions);
        Assert.True(responses.Where((r, i) => i % 2 == 1 && r.StatusCode == HttpStatusCode.OK).Any(), "the second instance allowed nothing");
        Assert.True(responses.Where((r, i) => i % 2 == 0 && r.StatusCode == HttpStatusCode.OK).Any(), "the first instance allowed nothing");
    }
}

/// <summary>Short windows (a 1 s "minute", a 3 s "hour") so that expiry can be watched.</summary>
public sealed class RateLimitWindowTests : IClassFixture<RateLimitWindowTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["RateLimits:MinuteWindowSeconds"] = "1";
            Settings["RateLimits:HourWindowSeconds"] = "3";
            Settings["RateLimits:PerMinute"] = "3";
            Settings["RateLimits:PerHour"] = "5";
            Settings["RateLimits:Policies:ingest:PerMinute"] = "100";
            Settings["RateLimits:Policies:ingest:PerHour"] = "5";
        }
    }

    private readonly HttpClient _client;

    public RateLimitWindowTests(Factory factory) => _client = factory.CreateClient();

    [Fact]
    public async Task The_minute_limit_bites_and_headers_stay_consistent()
    {
        var ip = Limited.NewIp();
        await Limited.StartWellInsideWindowAsync(window: 3, needed: 2.5); // the 1 s "minute" and 3 s "hour" start together
        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++) responses.Add(await _client.GetAsAsync("/test/ping", ip));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], responses.Select(r => r.StatusCode));
        foreach (var response in responses)
        {
            Assert.Contains("\"api-minute\";q=3;w=1", response.Headers.GetValues("RateLimit-Policy").Single());
            Assert.Contains("\"api-hour\";q=5;w=3", response.Headers.GetValues("RateLimit-Policy").Single());
            Assert.True(response.Headers.Contains("RateLimit"));
            Assert.True(response.Headers.Contains("X-RateLimit-Reset"));
        }
        Assert.Equal([2, 1, 0, 0], responses.Select(r => r.Header("X-RateLimit-Remaining")));
        Assert.All(responses, r => Assert.Equal(3, r.Header("X-RateLimit-Limit")));
        Assert.Contains("\"api-minute\";r=1;", responses[1].Headers.GetValues("RateLimit").Single());

        var refused = await responses[3].ProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal("api", refused.GetProperty("policy").GetString());
        Assert.InRange(responses[3].Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 2);
    }

    [Fact]
    public async Task The_hour_limit_bites_on_its_own_and_lifts_after_its_window()
    {
        // "ingest" here allows 100 per minute but 5 per (3 s) hour: only the hour can refuse.
        var ip = Limited.NewIp();
        await Limited.StartWellInsideWindowAsync(window: 3, needed: 2.85);

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 7; i++) responses.Add(await _client.GetAsAsync("/test/ingest-ping", ip));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var refusal = responses[5];
        Assert.Equal(HttpStatusCode.TooManyRequests, refusal.StatusCode);
        Assert.Equal(5, refusal.Header("X-RateLimit-Limit"));
        Assert.Contains("\"ingest-hour\";r=0;", refusal.Headers.GetValues("RateLimit").Single());
        Assert.DoesNotContain("\"ingest-minute\";r=0;", refusal.Headers.GetValues("RateLimit").Single());

        await Task.Delay(refusal.Headers.RetryAfter!.Delta!.Value + TimeSpan.FromMilliseconds(300));
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsAsync("/test/ingest-ping", ip)).StatusCode);
    }

    [Fact]
    public async Task Health_probes_and_the_OpenAPI_document_are_never_limited()
    {
        var ip = Limited.NewIp();
        foreach (var path in new[] { "/health/live", "/health/ready", "/openapi/v1.json" })
        {
            for (var i = 0; i < 8; i++)
            {
                var response = await _client.GetAsAsync(path, ip);
                Assert.NotEqual(HttpStatusCode.TooManyRequests, response.StatusCode);
                Assert.False(response.Headers.Contains("RateLimit-Policy"), path);
            }
        }
    }
}

public sealed class RateLimitPolicyTests : IClassFixture<RateLimitPolicyTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["RateLimits:PerMinute"] = "3";
            Settings["RateLimits:Policies:auth:PerMinute"] = "4";
            Settings["RateLimits:Policies:ingest:PerMinute"] = "3";
            // Loopback (the tests' own sign-ups) is exempt, so only the forwarded client IPs below are counted.
            Settings["RateLimits:Allowlist:Networks"] = "10.9.0.0/16, 192.0.2.1, 127.0.0.1";
        }
    }

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public RateLimitPolicyTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    [Theory]
    [InlineData("10.9.8.7")]
    [InlineData("192.0.2.1")]
    public async Task Allowlisted_networks_are_never_limited(string ip)
    {
        for (var i = 0; i < 10; i++)
        {
            var response = await _client.GetAsAsync("/test/ping", ip);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("RateLimit"));
        }
    }

    [Fact]
    public async Task Auth_counts_by_client_IP_and_by_target_account()
    {
        async Task<HttpStatusCode> LoginAsync(string ip, string email)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/login") { Content = JsonContent.Create(new { email, password = "wrong password!" }) };
            request.Headers.Add("X-Forwarded-For", ip);
            return (await _client.SendAsync(request)).StatusCode;
        }

        await Limited.StartWellInsideWindowAsync();
        // One account attacked from many IPs: the account's budget (4) stops the fifth attempt.
        var victim = Identity.NewEmail("victim");
        var fromMany = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++) fromMany.Add(await LoginAsync(Limited.NewIp(), victim.ToUpperInvariant()));
        Assert.Equal(4, fromMany.Count(s => s == HttpStatusCode.Unauthorized));
        Assert.Equal(HttpStatusCode.TooManyRequests, fromMany[4]);

        // Many accounts from one IP: the IP's budget stops the fifth.
        var ip = Limited.NewIp();
        var fromOne = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++) fromOne.Add(await LoginAsync(ip, Identity.NewEmail("spray")));
        Assert.Equal(HttpStatusCode.TooManyRequests, fromOne[4]);
    }

    [Fact]
    public async Task Authenticated_users_are_counted_per_user_not_per_IP()
    {
        var first = await _factory.SignUpAsync();
        var second = await _factory.SignUpAsync();
        var ip = Limited.NewIp();
        await Limited.StartWellInsideWindowAsync();

        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await first.Client.GetAsAsync("/api/v1/auth/me", ip)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await first.Client.GetAsAsync("/api/v1/auth/me", ip)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.Client.GetAsAsync("/api/v1/auth/me", ip)).StatusCode);
    }

    [Fact]
    public async Task Agent_keys_are_counted_per_key_with_per_key_overrides_and_allowlisted_keys()
    {
        var owner = await _factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (plainId, plain) = await owner.CreateApiKeyAsync(orgId, "plain");
        var (boostedId, boosted) = await owner.CreateApiKeyAsync(orgId, "boosted");
        var (exemptId, exempt) = await owner.CreateApiKeyAsync(orgId, "exempt");

        // Overrides and allowlists name key ids, known only now: a second host of the deployment reads them.
        await using var configured = await _factory.AnotherInstanceAsync();
        configured.Settings[$"RateLimits:Overrides:{boostedId}:PerMinute"] = "6";
        configured.Settings["RateLimits:Allowlist:ApiKeyIds"] = exemptId.ToString();
        var client = configured.CreateClient();
        var ip = Limited.NewIp();
        await Limited.StartWellInsideWindowAsync();

        async Task<int> AllowedAsync(string key, int attempts)
        {
            var ok = 0;
            for (var i = 0; i < attempts; i++) if ((await client.GetAsAsync("/test/ingest-ping", ip, key)).StatusCode == HttpStatusCode.OK) ok++;
            return ok;
        }

        Assert.Equal(3, await AllowedAsync(plain, 5));
        Assert.Equal(6, await AllowedAsync(boosted, 8));
        Assert.Equal(10, await AllowedAsync(exempt, 10));
        Assert.NotEqual(Guid.Empty, plainId);
    }
}

public sealed class RateLimitMonitorModeTests : IClassFixture<RateLimitMonitorModeTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["RateLimits:PerMinute"] = "3";
            Settings["RateLimits:Policies:api:Monitor"] = "true";
        }
    }

    private readonly Factory _factory;

    public RateLimitMonitorModeTests(Factory factory) => _factory = factory;

    [Fact]
    public async Task Monitor_mode_never_rejects_but_counts_and_logs()
    {
        var client = _factory.CreateClient();
        var ip = Limited.NewIp();
        await Limited.StartWellInsideWindowAsync();

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 10; i++) responses.Add(await client.GetAsAsync("/test/ping", ip));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(0, responses[^1].Header("X-RateLimit-Remaining"));
        Assert.Equal(7, _factory.Logs.Lines.Count(l => l.Message.Contains($"Rate limit api would reject ip:{ip}")));
    }
}
