using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.FileProviders;
using Service.Infrastructure.Database;
using Service.Infrastructure.Redis;
using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Settings;

public sealed class ConfigurationTests : IDisposable
{
    private readonly string _dotEnv = Path.Combine(Path.GetTempPath(), $"env-{Guid.NewGuid():N}");

    public void Dispose() => File.Delete(_dotEnv);

    [Fact]
    public void Flat_names_set_their_nested_keys()
    {
        var config = Build("Production", environment: new()
        {
            ["SECRET_KEY"] = "k", ["DATABASE_URL"] = "postgres://db/app", ["REDIS_URL"] = "redis://r", ["CORS_ORIGINS"] = "https://a.example,https://b.example",
            ["S3_BUCKET"] = "b", ["S3_ENDPOINT"] = "http://s3", ["AWS_REGION"] = "eu-west-1", ["AWS_ACCESS_KEY_ID"] = "id",
            ["AWS_SECRET_ACCESS_KEY"] = "sk", ["SENTRY_DSN"] = "https://k@s/1", ["RATE_LIMIT_PER_MINUTE"] = "7", ["RATE_LIMIT_PER_HOUR"] = "70",
        });

        Assert.Equal("k", config["Security:SecretKey"]);
        Assert.Equal("postgres://db/app", config["Database:Url"]);
        Assert.Equal("redis://r", config["Redis:Url"]);
        Assert.Equal("https://a.example,https://b.example", config["Cors:Origins"]);
        Assert.Equal("b", config["Storage:Bucket"]);
        Assert.Equal("http://s3", config["Storage:ServiceUrl"]);
        Assert.Equal("eu-west-1", config["Storage:Region"]);
        Assert.Equal("id", config["Storage:AccessKeyId"]);
        Assert.Equal("sk", config["Storage:SecretAccessKey"]);
        Assert.Equal("https://k@s/1", config["ErrorReporting:Dsn"]);
        Assert.Equal("7", config["RateLimits:PerMinute"]);
        Assert.Equal("70", config["RateLimits:PerHour"]);
    }

    [Fact]
    public void In_Development_a_dotenv_file_overrides_appsettings_and_real_environment_variables_override_it()
    {
        File.WriteAllLines(_dotEnv,
        [
            "# comment",
            "export REDIS_URL=redis://from-dotenv",
            "DATABASE_URL=\"postgres://from-dotenv/app\"",
            "Http__MaxRequestBodyBytes=2048 # trailing comment",
            "",
        ]);
        var config = Build("Development",
            appsettings: new() { ["Redis:Url"] = "redis://from-appsettings", ["Database:Url"] = "postgres://from-appsettings/app", ["Http:MaxRequestBodyBytes"] = "1" },
            environment: new() { ["DATABASE_URL"] = "postgres://from-environment/app" });

        Assert.Equal("redis://from-dotenv", config["Redis:Url"]);
        Assert.Equal("postgres://from-environment/app", config["Database:Url"]);
        Assert.Equal("2048", config["Http:MaxRequestBodyBytes"]);
    }

    [Fact]
    public void Outside_Development_the_dotenv_file_is_ignored()
    {
        File.WriteAllLines(_dotEnv, ["SECRET_KEY=from-dotenv"]);
        var config = Build("Production", appsettings: new() { ["Security:SecretKey"] = "from-appsettings" });

        Assert.Equal("from-appsettings", config["Security:SecretKey"]);
    }

    [Fact]
    public void Flat_names_win_over_nested_names_and_the_command_line_wins_over_both()
    {
        var config = Build("Production", environment: new() { ["REDIS_URL"] = "redis://flat" }, nested: new() { ["Redis:Url"] = "redis://nested", ["Database:Url"] = "postgres://nested/app" },
            commandLine: ["--Database:Url=postgres://command-line/app"]);

        Assert.Equal("redis://flat", config["Redis:Url"]);
        Assert.Equal("postgres://command-line/app", config["Database:Url"]);
    }

    [Theory]
    [InlineData("production", null, "Production")]
    [InlineData("PROD", null, "Production")]
    [InlineData("development", null, "Development")]
    [InlineData("staging", null, "Staging")]
    [InlineData("production", "Development", null)]
    [InlineData(null, null, null)]
    public void ENVIRONMENT_picks_the_host_environment_unless_ASPNETCORE_ENVIRONMENT_is_set(string? flat, string? aspnet, string? expected)
    {
        var environment = new Dictionary<string, string>();
        if (flat is not null) environment["ENVIRONMENT"] = flat;
        if (aspnet is not null) environment["ASPNETCORE_ENVIRONMENT"] = aspnet;

        Assert.Equal(expected, AppConfiguration.CreateOptions([], environment).EnvironmentName);
    }

    [Theory]
    [InlineData("postgres://app:p%40ss%3Aword@db.internal:6543/work?sslmode=require", "db.internal", 6543, "work", "app", "p@ss:word")]
    [InlineData("postgresql://app@db/work", "db", 5432, "work", "app", null)]
    [InlineData("Host=db;Port=5433;Database=work;Username=app;Password=pw", "db", 5433, "work", "app", "pw")]
    public void DATABASE_URL_accepts_urls_and_key_value_strings(string url, string host, int port, string database, string user, string? password)
    {
        var builder = DatabaseUrl.Parse(url);

        Assert.Equal(host, builder.Host);
        Assert.Equal(port, builder.Port);
        Assert.Equal(database, builder.Database);
        Assert.Equal(user, builder.Username);
        Assert.Equal(password, builder.Password);
    }

    [Fact]
    public void DATABASE_URL_sslmode_is_honoured()
    {
        Assert.Equal(Npgsql.SslMode.Require, DatabaseUrl.Parse("postgres://a:b@h/d?sslmode=require").SslMode);
    }

    [Theory]
    [InlineData("redis://:pw%21@cache.internal:6380/2", "cache.internal:6380", "pw!", 2, false)]
    [InlineData("rediss://user:pw@cache.internal", "cache.internal:6379", "pw", null, true)]
    [InlineData("cache.internal:6390,password=pw", "cache.internal:6390", "pw", null, false)]
    public void REDIS_URL_accepts_urls_and_client_configuration_strings(string url, string endpoint, string password, int? database, bool ssl)
    {
        var configuration = RedisUrl.Parse(url);

        Assert.Equal(endpoint, Assert.Single(configuration.EndPoints).ToString()!.Replace("Unspecified/", ""));
        Assert.Equal(password, configuration.Password);
        Assert.Equal(database, configuration.DefaultDatabase);
        Assert.Equal(ssl, configuration.Ssl);
    }

    [Fact]
    public void The_env_example_documents_every_flat_name_and_ships_the_refused_placeholder()
    {
        var example = DotEnvFile.Read(Path.Combine(TestServers.RepositoryRoot, ".env.example"));

        Assert.All(FlatSettingNames.ToConfigKey.Keys, name => Assert.True(example.ContainsKey(name), $".env.example lacks {name}"));
        Assert.Equal(SecurityOptions.PlaceholderSecretKey, example["SECRET_KEY"]);
    }

    private IConfiguration Build(string environmentName, Dictionary<string, string?>? appsettings = null, Dictionary<string, string>? environment = null,
        Dictionary<string, string?>? nested = null, string[]? commandLine = null)
    {
        // The same source order WebApplication.CreateBuilder sets up: files, environment variables, command line.
        var manager = new ConfigurationManager();
        manager.Sources.Add(new MemoryConfigurationSource { InitialData = appsettings ?? [] });
        manager.Sources.Add(new EnvironmentVariablesConfigurationSource { Prefix = "NO_SUCH_PREFIX_" });
        manager.Sources.Add(new MemoryConfigurationSource { InitialData = nested ?? [] }); // stands in for nested env names
        manager.Sources.Add(new EnvironmentVariablesConfigurationSource());
        manager.Sources.Add(new CommandLineConfigurationSource { Args = commandLine ?? [] });

        var env = environment ?? [];
        AppConfiguration.AddFlatSettings(manager, new FakeEnvironment(environmentName), () => env, _dotEnv);
        return manager;
    }

    private sealed class FakeEnvironment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;
        public string ApplicationName { get; set; } = "Service";
        public string ContentRootPath { get; set; } = "/";
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}
