namespace Service.Infrastructure.Privacy;

public static class PathModes
{
    /// <summary>Paths are stored as sent.</summary>
    public const string Keep = "keep";

    /// <summary>A home-directory prefix (/home/ana/, /Users/ana/, C:\Users\ana\) becomes ~/.</summary>
    public const string Home = "home";

    /// <summary>Every directory segment becomes a keyed hash; the file name is kept or hashed (HashFileNames).</summary>
    public const string HashDirs = "hash_dirs";

    public static readonly string[] All = [Keep, Home, HashDirs];
}

public static class DepartedUserEvents
{
    public const string Delete = "delete";

    /// <summary>Kept for the organization's patterns, with nothing left that leads back to the person.</summary>
    public const string Anonymize = "anonymize";

    public static readonly string[] All = [Delete, Anonymize];
}

/// <summary>An organization's privacy policy as its admins write it; an organization that never wrote one has <see cref="Default"/>.</summary>
public sealed record PrivacySettings(string PathMode, bool HashFileNames, IReadOnlyList<string> ExcludeGlobs, IReadOnlyList<string> DropMetadataKeys,
    int? RetentionDays, string DepartedUserEvents)
{
    public const int MaxGlobs = 100;
    public const int MaxMetadataKeys = 100;
    public const int MaxMetadataKeyLength = 100;

    public static readonly string[] DefaultExcludeGlobs =
    [
        "**/.ssh/**", "**/.gnupg/**", "**/*.pem", "**/*.key", "**/.env", "**/.env.*", "**/*.p12", "**/*.pfx", "**/.aws/credentials",
        "**/.netrc", "**/.pgpass", "**/id_rsa*", "**/id_ed25519*",
    ];

    public static readonly string[] DefaultDropMetadataKeys =
    [
        "password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "authorization", "cookie", "session", "credential",
        "credentials", "private_key", "passphrase", "otp",
    ];

    public static readonly PrivacySettings Default =
        new(PathModes.Keep, false, DefaultExcludeGlobs, DefaultDropMetadataKeys, null, Privacy.DepartedUserEvents.Delete);

    /// <summary>A metadata key compared the way the scrubber compares property names: case, '_', '-', '.' and spaces ignored.</summary>
    public static string NormalizeKey(string key)
    {
        Span<char> buffer = key.Length <= 256 ? stackalloc char[key.Length] : new char[key.Length];
        var length = 0;
        foreach (var c in key)
        {
            if (c is '_' or '-' or '.' or ' ') continue;
            buffer[length++] = char.ToLowerInvariant(c);
        }
        return new string(buffer[..length]);
    }
}
