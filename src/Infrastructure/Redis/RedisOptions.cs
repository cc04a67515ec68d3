using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;
using StackExchange.Redis;

namespace Service.Infrastructure.Redis;

public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>redis://[:password@]host:port[/db], rediss:// for TLS, or a StackExchange.Redis configuration string (REDIS_URL).</summary>
    [Required(ErrorMessage = "REDIS_URL (Redis:Url): is not set. Fix: set REDIS_URL, e.g. redis://redis.internal:6379.")]
    public string Url { get; set; } = "";

    [Range(100, 60_000, ErrorMessage = "Redis:ConnectTimeoutMilliseconds (env Redis__ConnectTimeoutMilliseconds): must be from 100 to 60000. Fix: e.g. 2000.")]
    public int ConnectTimeoutMilliseconds { get; set; } = 2000;

    [Range(100, 60_000, ErrorMessage = "Redis:OperationTimeoutMilliseconds (env Redis__OperationTimeoutMilliseconds): must be from 100 to 60000. Fix: e.g. 1000.")]
    public int OperationTimeoutMilliseconds { get; set; } = 1000;

    public ConfigurationOptions ToConfiguration()
    {
        var configuration = RedisUrl.Parse(Url);
        configuration.AbortOnConnectFail = false; // keep reconnecting in the background; never fail startup on Redis
        // The client's default queues commands while disconnected until they time out: a refused connection would
        // then cost every caller the full timeout. Fail at once instead; callers fall back per their policy.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ConnectTimeout = ConnectTimeoutMilliseconds;
        configuration.SyncTimeout = OperationTimeoutMilliseconds;
        configuration.ClientName ??= "workflow-service";
        return configuration;
    }
}

public sealed class RedisOptionsValidator : IValidateOptions<RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Url) || RedisUrl.TryParse(options.Url, out _, out var error)) return ValidateOptionsResult.Success;
        return ValidateOptionsResult.Fail(new StartupProblem(FlatSettingNames.Describe("Redis:Url"), $"cannot be parsed: {error}",
            "use redis://[:password@]host:6379[/db] (rediss:// for TLS).").ToString());
    }
}

public static class RedisUrl
{
    public static ConfigurationOptions Parse(string value) =>
        TryParse(value, out var configuration, out var error) ? configuration : throw new FormatException(error);

    /// <remarks>The error never repeats the value: it may hold a password.</remarks>
    public static bool TryParse(string value, out ConfigurationOptions configuration, out string? error)
    {
        configuration = new ConfigurationOptions();
        value = value.Trim();
        if (value.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                error = "it is not a well-formed URL (redis://[:password@]host:port[/db]).";
                return false;
            }
            var port = uri.IsDefaultPort || uri.Port <= 0 ? 6379 : uri.Port;
            configuration.EndPoints.Add(uri.Host, port);
            configuration.Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase);
            if (configuration.Ssl) configuration.SslHost = uri.Host;
            var userInfo = uri.UserInfo.Split(':', 2);
            var password = userInfo.Length == 2 ? userInfo[1] : userInfo[0];
            if (password.Length > 0) configuration.Password = Uri.UnescapeDataString(password);
            var path = uri.AbsolutePath.Trim('/');
            if (path.Length > 0)
            {
                if (!int.TryParse(path, out var database) || database < 0)
                {
                    error = "the path must be a database number (redis://host:6379/0).";
                    return false;
                }
                configuration.DefaultDatabase = database;
            }
            error = null;
            return true;
        }
        if (value.Contains("://", StringComparison.Ordinal))
        {
            error = "the URL scheme must be redis:// or rediss://.";
            return false;
        }
        try
        {
            configuration = ConfigurationOptions.Parse(value);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            error = "it is neither a redis:// URL nor a valid StackExchange.Redis configuration string.";
            return false;
        }
        if (configuration.EndPoints.Count == 0)
        {
            error = "it names no host.";
            return false;
        }
        error = null;
        return true;
    }
}
