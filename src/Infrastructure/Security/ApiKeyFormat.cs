using System.Security.Cryptography;
using System.Text;

namespace Service.Infrastructure.Security;

/// <summary>
/// Agent keys read "wfk_{prefix}_{secret}": the prefix (12 characters) finds the key, the secret (256 random bits)
/// proves it. The secret has full entropy, so SHA-256 is enough to store it: no per-request password hashing.
/// </summary>
public static class ApiKeyFormat
{
    public const string Marker = "wfk_";
    private const int PrefixLength = 12;
    private const string PrefixAlphabet = "abcdefghijkmnpqrstuvwxyz23456789";

    public sealed record GeneratedKey(string Prefix, string Secret, string FullKey, byte[] SecretHash);

    public static GeneratedKey Generate() => WithSecret(Marker + RandomNumberGenerator.GetString(PrefixAlphabet, PrefixLength));

    /// <summary>A new secret under an existing prefix (rotation keeps the key's identity).</summary>
    public static GeneratedKey WithSecret(string prefix)
    {
        var secret = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return new GeneratedKey(prefix, secret, $"{prefix}_{secret}", Hash(secret));
    }

    public static bool TryParse(string key, out string prefix, out string secret)
    {
        prefix = secret = "";
        var separator = Marker.Length + PrefixLength;
        if (key.Length < separator + 20 || !key.StartsWith(Marker, StringComparison.Ordinal) || key[separator] != '_') return false;
        prefix = key[..separator];
        secret = key[(separator + 1)..];
        return prefix[Marker.Length..].All(PrefixAlphabet.Contains);
    }

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    public static bool Matches(string secret, byte[]? storedHash) =>
        storedHash is not null && CryptographicOperations.FixedTimeEquals(Hash(secret), storedHash);
}
