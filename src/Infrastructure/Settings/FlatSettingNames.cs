namespace Service.Infrastructure.Settings;

/// <summary>The flat variable names operators already use, and the configuration keys they set.</summary>
public static class FlatSettingNames
{
    public static readonly IReadOnlyDictionary<string, string> ToConfigKey =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["SECRET_KEY"] = "Security:SecretKey",
            ["ENCRYPTION_KEY"] = "Encryption:Key",
            ["ENCRYPTION_KEYS_OLD"] = "Encryption:OldKeys",
            ["DATABASE_URL"] = "Database:Url",
            ["REDIS_URL"] = "Redis:Url",
            ["CORS_ORIGINS"] = "Cors:Origins",
            ["S3_BUCKET"] = "Storage:Bucket",
            ["S3_ENDPOINT"] = "Storage:ServiceUrl",
            ["AWS_REGION"] = "Storage:Region",
            ["AWS_ACCESS_KEY_ID"] = "Storage:AccessKeyId",
            ["AWS_SECRET_ACCESS_KEY"] = "Storage:SecretAccessKey",
            ["SENTRY_DSN"] = "ErrorReporting:Dsn",
            ["RATE_LIMIT_PER_MINUTE"] = "RateLimits:PerMinute",
            ["RATE_LIMIT_PER_HOUR"] = "RateLimits:PerHour",
            ["ADMIN_EMAILS"] = "Auth:AdminEmails",
        };

    /// <summary>"Security:SecretKey" reads "SECRET_KEY (Security:SecretKey)"; keys without a flat name read "Section__Key".</summary>
    public static string Describe(string configKey)
    {
        foreach (var (flat, key) in ToConfigKey)
        {
            if (string.Equals(key, configKey, StringComparison.OrdinalIgnoreCase)) return $"{flat} ({configKey})";
        }
        return $"{configKey} (env {configKey.Replace(":", "__")})";
    }
}
