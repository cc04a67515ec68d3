namespace Service.Tests.Fixtures;

/// <summary>Where the servers started by scripts/test.sh listen (scripts/services.sh, profile "test").</summary>
public static class TestServers
{
    public static string PostgresAdminUrl => Env("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:15433/postgres");
    public static string RedisUrl => Env("TEST_REDIS_URL", "redis://127.0.0.1:16380");
    public static string S3Endpoint => Env("TEST_S3_ENDPOINT", "http://127.0.0.1:14570");
    public static string S3Bucket => Env("TEST_S3_BUCKET", "workflow-uploads");

    /// <summary>Same server and credentials as the admin URL, another database.</summary>
    public static string DatabaseUrl(string database)
    {
        var uri = new UriBuilder(PostgresAdminUrl) { Path = "/" + database };
        return uri.Uri.ToString();
    }

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Service.csproj"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("Service.csproj not found above the test output folder");
        }
    }

    private static string Env(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;
}
