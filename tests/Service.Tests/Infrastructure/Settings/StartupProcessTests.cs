using System.Net.Sockets;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Settings;

/// <summary>The built service as a real process: refusals exit non-zero before binding; SIGTERM drains and exits 0.</summary>
public sealed class StartupProcessTests(ServiceFactory database) : IClassFixture<ServiceFactory>
{
    /// <summary>The factory's settings as environment variables (Section__Key), in Production, for another database.</summary>
    private Dictionary<string, string> ProductionEnvironment(string databaseName)
    {
        var environment = database.BaseSettings().ToDictionary(kv => kv.Key.Replace(":", "__"), kv => kv.Value ?? "");
        environment["Database__Url"] = TestServers.DatabaseUrl(databaseName);
        environment["ENVIRONMENT"] = "production";
        environment["Integrations__AllowedPrivateNetworks"] = ""; // refused in Production
        return environment;
    }

    [Fact]
    public async Task Two_misconfigurations_are_reported_together_and_the_process_exits_before_binding_its_port()
    {
        // Hold the port: had the service got as far as binding, it would fail with "address already in use" instead.
        var port = ServiceProcess.FreePort();
        using var squatter = new TcpListener(IPAddress.Loopback, port);
        squatter.Start();
        var environment = ProductionEnvironment(database.DatabaseName);
        environment["SECRET_KEY"] = "not-long-enough-secret";
        environment["CORS_ORIGINS"] = "*";

        await using var service = ServiceProcess.Start(environment, "--urls", $"http://127.0.0.1:{port}");
        var exit = await service.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exit);
        Assert.Contains("Startup refused: 2 problems", service.Stderr);
        Assert.Contains("SECRET_KEY", service.Stderr);
        Assert.Contains("CORS_ORIGINS", service.Stderr);
        var output = service.Stdout + service.Stderr;
        Assert.DoesNotContain("not-long-enough-secret", output);
        Assert.DoesNotContain("address already in use", output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Now listening", output);
    }

    [Fact]
    public async Task Production_with_pending_migrations_exits_non_zero_naming_them_and_the_command()
    {
        var empty = await TestDatabases.CreateEmptyAsync();
        try
        {
            await using var service = ServiceProcess.Start(ProductionEnvironment(empty), "--urls", $"http://127.0.0.1:{ServiceProcess.FreePort()}");
            var exit = await service.WaitForExitAsync(TimeSpan.FromSeconds(60));

            Assert.NotEqual(0, exit);
            Assert.Contains("Startup refused: 1 problem", service.Stderr);
            Assert.Contains("0001 initial", service.Stderr);
            Assert.Contains("migrate", service.Stderr);
        }
        finally
        {
            await TestDatabases.DropAsync(empty);
        }
    }

    [Fact]
    public async Task On_SIGTERM_readiness_turns_503_first_requests_are_still_served_and_the_process_exits_0()
    {
        var port = ServiceProcess.FreePort();
        var environment = ProductionEnvironment(database.DatabaseName);
        environment["Http__ShutdownDelaySeconds"] = "3";
        await using var service = ServiceProcess.Start(environment, "--urls", $"http://127.0.0.1:{port}");
        await service.WaitForOutputAsync("Now listening", TimeSpan.FromSeconds(60));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };

        var before = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.False(before.Headers.Contains("Server"));

        service.Terminate();
        await Task.Delay(500);
        var draining = await client.GetAsync("/health/ready");
        var body = await draining.Content.ReadFromJsonAsync<JsonElement>();
        var live = await client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, draining.StatusCode);
        Assert.True(body.GetProperty("draining").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(0, await service.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        // Production logs are JSON, one object per line.
        Assert.All(service.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => JsonDocument.Parse(line));
    }
}
