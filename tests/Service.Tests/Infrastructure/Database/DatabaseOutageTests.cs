using System.Diagnostics;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Database;

/// <summary>
/// A PostgreSQL of this class's own is paused with SIGSTOP (server and backends: connections stay open, nothing
/// answers) and resumed: requests fail fast with 503 instead of hanging, and the service recovers without a restart.
/// </summary>
public sealed class DatabaseOutageTests(DatabaseOutageTests.Factory factory) : IClassFixture<DatabaseOutageTests.Factory>
{
    public sealed class Factory() : PrivateServerFactory(LocalServer.Postgres(),
        ("Database:ConnectTimeoutSeconds", "2"),
        ("Database:CommandTimeoutSeconds", "2"),
        ("Health:CheckTimeoutMilliseconds", "1000"),
        ("Health:CacheMilliseconds", "0"));

    [Fact]
    public async Task Requests_answer_503_within_their_timeouts_while_PostgreSQL_is_paused_and_work_again_after()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Paused");
        var anonymous = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await owner.Client.GetAsync($"/api/v1/orgs/{orgId}")).StatusCode);

        factory.Dependency.Pause();
        try
        {
            foreach (var url in new[] { $"/api/v1/orgs/{orgId}", "/api/v1/orgs", "/api/v1/auth/me" })
            {
                var clock = Stopwatch.StartNew();
                var response = await owner.Client.GetAsync(url);
                clock.Stop();
                var problem = await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
                Assert.Equal("Database unavailable", problem.GetProperty("title").GetString());
                Assert.Equal("5", response.Headers.GetValues("Retry-After").Single());
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{url} took {clock.Elapsed}");
            }
            var login = await anonymous.PostAsJsonAsync("/api/v1/auth/login", new { email = owner.Email, password = owner.Password });
            await login.ProblemAsync(HttpStatusCode.ServiceUnavailable);
            var ready = Stopwatch.StartNew();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await anonymous.GetAsync("/health/ready")).StatusCode);
            Assert.True(ready.Elapsed < TimeSpan.FromSeconds(3), $"readiness took {ready.Elapsed}");
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
        }
        finally
        {
            factory.Dependency.Resume();
        }

        var deadline = DateTime.UtcNow.AddSeconds(15);
        HttpResponseMessage again;
        while ((again = await owner.Client.GetAsync($"/api/v1/orgs/{orgId}")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"still {again.StatusCode} 15 s after resuming");
            await Task.Delay(200);
        }
        // Readiness follows within moments: right after the thaw PostgreSQL is still working through the connections
        // and cancel requests that queued up, and a new connection may miss its 1 s budget once.
        HttpResponseMessage readiness;
        while ((readiness = await anonymous.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"readiness still {readiness.StatusCode}: {await readiness.Content.ReadAsStringAsync()}");
            await Task.Delay(200);
        }
        Assert.DoesNotContain(factory.Logs.Lines, l => l.Level == Microsoft.Extensions.Logging.LogLevel.Error && l.Category.Contains("UnhandledExceptionHandler"));
    }
}
