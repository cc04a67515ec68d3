using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Service.Tests.Fixtures;

/// <summary>
/// The app in-process against the real test servers, with a database of its own (one per test class through
/// IClassFixture). <see cref="Settings"/> and <see cref="EnvironmentName"/> may be changed before first use.
/// </summary>
public class ServiceFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string TestSecretKey = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz";
    public const string TestEncryptionKey = "test-encryption-key-0123456789abcdefghijklmnopqrstuv";

    public string DatabaseName { get; private set; } = "";

    /// <summary>Set before initialization to run against an existing database (the factory then neither creates nor drops it).</summary>
    public string? ExistingDatabase { get; init; }
    public string EnvironmentName { get; set; } = "Development";
    public CapturedLogs Logs { get; } = new();
    public Dictionary<string, string?> Settings { get; } = new();

    /// <summary>Whether the database is cloned from the migrated template (true) or created empty.</summary>
    protected virtual bool MigratedDatabase => true;

    public virtual async Task InitializeAsync()
    {
        DatabaseName = ExistingDatabase
            ?? (MigratedDatabase ? await TestDatabases.CreateMigratedAsync() : await TestDatabases.CreateEmptyAsync());
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (DatabaseName.Length > 0 && ExistingDatabase is null) await TestDatabases.DropAsync(DatabaseName);
    }

    public Dictionary<string, string?> BaseSettings() => new()
    {
        ["Database:Url"] = TestServers.DatabaseUrl(DatabaseName),
        ["Database:Pool:MaxSize"] = "20",
        ["Redis:Url"] = TestServers.RedisUrl,
        ["Storage:Bucket"] = TestServers.S3Bucket,
        ["Storage:ServiceUrl"] = TestServers.S3Endpoint,
        ["Storage:AccessKeyId"] = "S3RVER",
        ["Storage:SecretAccessKey"] = "S3RVER",
        ["Storage:ForcePathStyle"] = "true",
        ["Security:SecretKey"] = TestSecretKey,
        ["Encryption:Key"] = TestEncryptionKey,
        // Webhook receivers in tests listen on 127.0.0.1; every other private address stays refused (Production refuses any).
        ["Integrations:AllowedPrivateNetworks"] = EnvironmentName == "Production" ? "" : "127.0.0.1/32",
        ["Integrations:PollIntervalMilliseconds"] = "200",
        ["Cors:Origins"] = "http://localhost:3000,https://app.example.com",
        ["Http:ShutdownDelaySeconds"] = "0",
        ["Health:CacheMilliseconds"] = "0",
        // Each factory counts in its own keys, with limits no functional test reaches; rate-limit tests set their own.
        ["RateLimits:KeyPrefix"] = $"rl-test-{_instance}",
        // Flag announcements reach this factory's instances only (they reload from this factory's database).
        ["FeatureFlags:Channel"] = $"flags-test-{_instance}",
        // Stream announcements and open-stream counts likewise stay within this factory's instances.
        ["Stream:Channel"] = $"stream-test-{_instance}",
        ["Stream:KeyPrefix"] = $"stream-test-{_instance}",
        ["RateLimits:PerMinute"] = "1000000",
        ["RateLimits:PerHour"] = "100000000",
        ["RateLimits:Policies:auth:PerMinute"] = "1000000",
        ["RateLimits:Policies:auth:PerHour"] = "100000000",
        ["RateLimits:Policies:ingest:PerMinute"] = "1000000",
        ["RateLimits:Policies:ingest:PerHour"] = "100000000",
        ["RateLimits:Policies:uploads:PerMinute"] = "1000000",
        ["RateLimits:Policies:uploads:PerHour"] = "100000000",
    };

    private readonly string _instance = Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// Another host of the same deployment: same database, same settings (Redis key prefix included), its own
    /// in-process state. The caller disposes it.
    /// </summary>
    public async Task<ServiceFactory> AnotherInstanceAsync()
    {
        var other = new ServiceFactory { ExistingDatabase = DatabaseName, EnvironmentName = EnvironmentName };
        await other.InitializeAsync();
        // The deployment's shared names (key prefix, flag channel) carry over; what depends on the environment is the other's own.
        foreach (var (key, value) in BaseSettings().Where(s => s.Key != "Integrations:AllowedPrivateNetworks")) other.Settings[key] = value;
        foreach (var (key, value) in Settings) other.Settings[key] = value;
        return other;
    }

    private static readonly string[] ReadByTheBuilder = ["ErrorReporting:", "OTEL_", "Telemetry:"];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(EnvironmentName);
        var settings = BaseSettings();
        foreach (var (key, value) in Settings) settings[key] = value;
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(settings));
        // What the app reads before its host is built (whether error reporting and telemetry are on) must arrive as a
        // process would pass it: the factory hands host settings to the entry point as command-line arguments.
        foreach (var (key, value) in settings.Where(s => ReadByTheBuilder.Any(prefix => s.Key.StartsWith(prefix, StringComparison.Ordinal))))
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureServices(services =>
        {
            services.AddSingleton<ILoggerProvider>(Logs);
            services.AddSingleton<IStartupFilter, TestEndpoints>();
            services.AddSingleton<IStartupFilter, LoopbackClient>();
            // The validation generator only sees the types of the compilation that calls AddValidation:
            // this call covers the test endpoints' request types, as the app's own call covers the product's.
            services.AddValidation();
        });
        builder.ConfigureTestServices(ConfigureTestServices);
    }

    /// <summary>Replacements or additions to the app's services, applied after its own registrations.</summary>
    public Action<IServiceCollection>? TestServices { get; set; }

    protected virtual void ConfigureTestServices(IServiceCollection services) => TestServices?.Invoke(services);
}

/// <summary>A factory whose database is created empty: nothing migrated.</summary>
public class EmptyDatabaseServiceFactory : ServiceFactory
{
    protected override bool MigratedDatabase => false;
}
