using Npgsql;
using Service.Infrastructure.Secrets;
using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Settings;

/// <summary>Each misconfiguration refuses to start, and the report names the setting (in-process; see StartupProcessTests for real processes).</summary>
public sealed class StartupGuardTests(ServiceFactory shared) : IClassFixture<ServiceFactory>
{
    public sealed record Case(string Environment, Dictionary<string, string?> Settings, string ExpectedSetting, string? MustNotAppear = null)
    {
        public override string ToString() => $"{Environment}: {string.Join(", ", Settings.Keys)}";
    }

    public static TheoryData<Case> Misconfigurations() =>
    [
        new("Production", new() { ["Security:SecretKey"] = "" }, "SECRET_KEY"),
        new("Production", new() { ["Security:SecretKey"] = "short-but-secret-value" }, "SECRET_KEY", "short-but-secret-value"),
        new("Production", new() { ["Security:SecretKey"] = SecurityOptions.PlaceholderSecretKey }, "SECRET_KEY", SecurityOptions.PlaceholderSecretKey),
        new("Production", new() { ["Security:SecretKey"] = SecurityOptions.DevelopmentSecretKey }, "SECRET_KEY", SecurityOptions.DevelopmentSecretKey),
        new("Production", new() { ["Cors:Origins"] = "*" }, "CORS_ORIGINS"),
        new("Production", new() { ["Cors:Origins"] = "https://app.example.com,app.example.org" }, "CORS_ORIGINS"),
        new("Production", new() { ["Cors:Origins"] = "http://app.example.com" }, "CORS_ORIGINS"),
        new("Production", new() { ["Cors:Origins"] = "https://app.example.com/path" }, "CORS_ORIGINS"),
        new("Development", new() { ["Database:Url"] = "postgres://user:hunter2-db-pass@db.internal:notaport/app" }, "DATABASE_URL", "hunter2-db-pass"),
        new("Production", new() { ["Database:Url"] = "Host=db;Password=hunter2-db-pass;Bogus Option=1" }, "DATABASE_URL", "hunter2-db-pass"),
        new("Development", new() { ["Database:Url"] = "mysql://db.internal/app" }, "DATABASE_URL"),
        new("Development", new() { ["Database:Url"] = "" }, "DATABASE_URL"),
        new("Development", new() { ["Redis:Url"] = "redis://:redis-pass-123@cache:notaport" }, "REDIS_URL", "redis-pass-123"),
        new("Production", new() { ["Redis:Url"] = "http://cache:6379" }, "REDIS_URL"),
        new("Production", new() { ["RateLimits:PerMinute"] = "0" }, "RATE_LIMIT_PER_MINUTE"),
        new("Production", new() { ["RateLimits:PerHour"] = "-5" }, "RATE_LIMIT_PER_HOUR"),
        new("Development", new() { ["ErrorReporting:Dsn"] = "not-a-dsn" }, "SENTRY_DSN"),
        new("Development", new() { ["Storage:ServiceUrl"] = "minio:9000" }, "S3_ENDPOINT"),
        new("Development", new() { ["Storage:Bucket"] = "" }, "S3_BUCKET"),
        new("Development", new() { ["Database:Pool:MaxSize"] = "0" }, "Database:Pool:MaxSize"),
        new("Development", new() { ["Database:Pool:MinSize"] = "30", ["Database:Pool:MaxSize"] = "10" }, "Database:Pool:MinSize"),
        new("Production", new() { ["Http:TrustedProxies"] = "10.0.0.0/8, lb.internal" }, "Http:TrustedProxies"),
        new("Development", new() { ["RateLimits:Allowlist:Networks"] = "10.0.0.0/33" }, "RateLimits:Allowlist:Networks"),
        new("Production", new() { ["Http:ShutdownTimeoutSeconds"] = "0" }, "Http:ShutdownTimeoutSeconds"),
        new("Production", new() { ["Health:CheckTimeoutMilliseconds"] = "5" }, "Health:CheckTimeoutMilliseconds"),
        new("Production", new() { ["RateLimits:RedisTimeoutMilliseconds"] = "1" }, "RateLimits:RedisTimeoutMilliseconds"),
        new("Production", new() { ["Encryption:Key"] = "" }, "ENCRYPTION_KEY"),
        new("Development", new() { ["Encryption:Key"] = "short-encryption-value" }, "ENCRYPTION_KEY", "short-encryption-value"),
        new("Production", new() { ["Encryption:Key"] = EncryptionOptions.PlaceholderKey }, "ENCRYPTION_KEY", EncryptionOptions.PlaceholderKey),
        new("Production", new() { ["Encryption:Key"] = EncryptionOptions.DevelopmentKey }, "ENCRYPTION_KEY", EncryptionOptions.DevelopmentKey),
        new("Production", new() { ["Encryption:Key"] = ServiceFactory.TestSecretKey }, "ENCRYPTION_KEY", ServiceFactory.TestSecretKey),
        new("Development", new() { ["Encryption:OldKeys"] = "old-but-short" }, "ENCRYPTION_KEYS_OLD", "old-but-short"),
        new("Production", new() { ["Integrations:AllowedPrivateNetworks"] = "127.0.0.1/32" }, "Integrations:AllowedPrivateNetworks"),
        new("Development", new() { ["Integrations:AllowedPrivateNetworks"] = "localhost" }, "Integrations:AllowedPrivateNetworks"),
        new("Development", new() { ["Integrations:RetrySchedule"] = "10,soon" }, "Integrations:RetrySchedule"),
        new("Development", new() { ["Integrations:AttemptTimeoutSeconds"] = "10", ["Integrations:LeaseSeconds"] = "15" }, "Integrations:LeaseSeconds"),
    ];

    [Theory]
    [MemberData(nameof(Misconfigurations))]
    public async Task Refuses_to_start_and_names_the_setting(Case c)
    {
        var refused = await StartExpectingRefusalAsync(c.Environment, c.Settings);

        Assert.StartsWith("Startup refused: 1 problem", refused.Message);
        Assert.Contains(c.ExpectedSetting, refused.Message);
        Assert.Contains("fix:", refused.Message);
        if (c.MustNotAppear is not null) Assert.DoesNotContain(c.MustNotAppear, refused.Message);
    }

    [Fact]
    public async Task Reports_every_problem_together()
    {
        var refused = await StartExpectingRefusalAsync("Production", new()
        {
            ["Security:SecretKey"] = "too-short",
            ["Cors:Origins"] = "*",
            ["RateLimits:PerHour"] = "0",
        });

        Assert.StartsWith("Startup refused: 3 problems", refused.Message);
        Assert.Contains("SECRET_KEY", refused.Message);
        Assert.Contains("CORS_ORIGINS", refused.Message);
        Assert.Contains("RATE_LIMIT_PER_HOUR", refused.Message);
        Assert.Contains("[3]", refused.Message);
    }

    [Fact]
    public async Task Production_with_valid_settings_starts_and_allows_localhost_http_origins()
    {
        await using var factory = new ServiceFactory { ExistingDatabase = shared.DatabaseName, EnvironmentName = "Production" };
        await factory.InitializeAsync();
        factory.Settings["Cors:Origins"] = "https://app.example.com,http://localhost:3000";

        var response = await factory.CreateClient().GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Development_tolerates_what_Production_refuses()
    {
        await using var factory = new ServiceFactory { ExistingDatabase = shared.DatabaseName, EnvironmentName = "Development" };
        await factory.InitializeAsync();
        factory.Settings["Security:SecretKey"] = "";
        factory.Settings["Cors:Origins"] = "http://localhost:5173";

        var response = await factory.CreateClient().GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Production_refuses_pending_migrations_listing_each_and_the_command()
    {
        await using var factory = new EmptyDatabaseServiceFactory { EnvironmentName = "Production" };
        await factory.InitializeAsync();

        var refused = Capture(factory);

        Assert.Contains("Database migrations", refused.Message);
        Assert.Contains("0001 initial", refused.Message);
        Assert.Contains("migrate", refused.Message);
    }

    [Fact]
    public async Task Development_applies_pending_migrations_at_startup()
    {
        await using var factory = new EmptyDatabaseServiceFactory();
        await factory.InitializeAsync();

        var response = await factory.CreateClient().GetFromJsonAsync<JsonElement>("/health/migrations");

        Assert.True(response.GetProperty("upToDate").GetBoolean());
        Assert.Equal(1, response.GetProperty("applied")[0].GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Development_without_AutoMigrate_starts_but_is_not_ready()
    {
        await using var factory = new EmptyDatabaseServiceFactory();
        await factory.InitializeAsync();
        factory.Settings["Database:AutoMigrate"] = "false";

        var client = factory.CreateClient();
        var ready = await client.GetAsync("/health/ready");
        var body = await ready.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", body.GetProperty("checks").GetProperty("migrations").GetProperty("status").GetString());
        Assert.Contains(factory.Logs.Lines, l => l.Message.Contains("pending migrations and Database:AutoMigrate is off"));
    }

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task A_tampered_migration_refuses_in_every_environment(string environment)
    {
        await using var factory = new ServiceFactory { EnvironmentName = environment };
        await factory.InitializeAsync();
        await ExecuteAsync(factory.DatabaseName, "UPDATE schema_migrations SET checksum = 'edited-after-apply' WHERE version = 1");

        var refused = Capture(factory);

        Assert.Contains("0001_initial no longer matches its file", refused.Message);
    }

    [Fact]
    public async Task Production_refuses_migrations_unknown_to_the_build_and_Development_warns()
    {
        await using var production = new ServiceFactory { EnvironmentName = "Production" };
        await production.InitializeAsync();
        await ExecuteAsync(production.DatabaseName, "INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (9999, 'from_the_future', 'x', 1)");

        var refused = Capture(production);
        Assert.Contains("9999_from_the_future", refused.Message);

        await using var development = new ServiceFactory { ExistingDatabase = production.DatabaseName };
        await development.InitializeAsync();
        var ready = await development.CreateClient().GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("Degraded", ready.GetProperty("checks").GetProperty("migrations").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Production_refuses_when_the_database_cannot_be_reached()
    {
        await using var factory = new ServiceFactory { ExistingDatabase = shared.DatabaseName, EnvironmentName = "Production" };
        await factory.InitializeAsync();
        factory.Settings["Database:Url"] = $"postgres://postgres:db-pass-xyz@127.0.0.1:{ServiceProcess.FreePort()}/nowhere";
        factory.Settings["Database:ConnectTimeoutSeconds"] = "2";

        var refused = Capture(factory);

        Assert.Contains("DATABASE_URL", refused.Message);
        Assert.Contains("cannot be reached", refused.Message);
        Assert.DoesNotContain("db-pass-xyz", refused.Message);
    }

    private async Task<StartupRefusedException> StartExpectingRefusalAsync(string environment, Dictionary<string, string?> settings)
    {
        await using var factory = new ServiceFactory { ExistingDatabase = shared.DatabaseName, EnvironmentName = environment };
        await factory.InitializeAsync();
        foreach (var (key, value) in settings) factory.Settings[key] = value;
        return Capture(factory);
    }

    /// <summary>
    /// The refusal, as thrown to the test host or, when the app disposed its host before the test host looked
    /// (WebApplicationFactory then throws ObjectDisposedException instead), as the host logged it on failing to start.
    /// </summary>
    private static StartupRefusedException Capture(ServiceFactory factory)
    {
        var thrown = Record.Exception(() => factory.CreateClient());
        return StartupRefusedException.Find(thrown)
            ?? factory.Logs.Lines.Select(l => StartupRefusedException.Find(l.ExceptionObject)).FirstOrDefault(r => r is not null)
            ?? throw new Xunit.Sdk.XunitException($"expected a startup refusal, got: {thrown?.ToString() ?? "a running service"}");
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        await using var dataSource = TestDatabases.OpenDataSource(database);
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
