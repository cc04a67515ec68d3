using System.Diagnostics.CodeAnalysis;
using Npgsql;

namespace Service.Infrastructure.Database;

/// <summary>Reads DATABASE_URL in either form operators use: a postgres:// URL or an Npgsql key=value string.</summary>
public static class DatabaseUrl
{
    public static NpgsqlConnectionStringBuilder Parse(string value) =>
        TryParse(value, out var builder, out var error) ? builder : throw new FormatException(error);

    /// <remarks>The error never repeats the value: it may hold a password.</remarks>
    public static bool TryParse(string value, [NotNullWhen(true)] out NpgsqlConnectionStringBuilder? builder, [NotNullWhen(false)] out string? error)
    {
        builder = null;
        value = value.Trim();
        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return TryParseUrl(value, out builder, out error);
        }
        if (value.Contains("://", StringComparison.Ordinal))
        {
            error = "the URL scheme must be postgres:// or postgresql://.";
            return false;
        }
        try
        {
            builder = new NpgsqlConnectionStringBuilder(value);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            error = "it is neither a postgres:// URL nor a valid key=value connection string.";
            return false;
        }
        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            builder = null;
            error = "the connection string names no Host.";
            return false;
        }
        error = null;
        return true;
    }

    private static bool TryParseUrl(string value, out NpgsqlConnectionStringBuilder? builder, out string? error)
    {
        builder = null;
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            error = "it is not a well-formed URL (postgres://user:password@host:port/database).";
            return false;
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/'))
        {
            error = "the URL names no database (postgres://user:password@host:port/database).";
            return false;
        }
        builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = database,
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0) builder.Username = Uri.UnescapeDataString(userInfo[0]);
        if (userInfo.Length == 2) builder.Password = Uri.UnescapeDataString(userInfo[1]);

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var val = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            try
            {
                switch (key.ToLowerInvariant())
                {
                    case "sslmode": builder.SslMode = Enum.Parse<SslMode>(val.Replace("-", ""), ignoreCase: true); break;
                    case "application_name": builder.ApplicationName = val; break;
                    default: builder[key] = val; break;
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
            {
                builder = null;
                error = $"the URL option '{key}' is not understood.";
                return false;
            }
        }
        error = null;
        return true;
    }
}
