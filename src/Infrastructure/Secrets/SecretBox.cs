using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Secrets;

/// <summary>
/// AES-256-GCM for secrets at rest. A sealed value is: format byte, key-id length, key id, 12-byte nonce, 16-byte tag,
/// ciphertext. The AES key is derived (HKDF-SHA256) from ENCRYPTION_KEY, and the key id from a hash of it, so an
/// operator never names ids: any old key listed in ENCRYPTION_KEYS_OLD opens what it sealed. The caller's context
/// (e.g. "integration:{id}") is authenticated data: a ciphertext copied onto another row does not open there.
/// </summary>
public sealed class SecretBox
{
    private const byte Format = 1;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private static readonly byte[] DerivationInfo = "service.secrets.aes256gcm.v1"u8.ToArray();

    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
    private readonly byte[] _currentKeyMaterial;

    public SecretBox(IOptions<EncryptionOptions> options) : this(options.Value.Key!, options.Value.OldKeyList) { }

    public SecretBox(string currentKey, IEnumerable<string> oldKeys)
    {
        CurrentKeyId = IdOf(currentKey);
        _currentKeyMaterial = Encoding.UTF8.GetBytes(currentKey);
        _keys[CurrentKeyId] = Derive(currentKey);
        foreach (var old in oldKeys) _keys.TryAdd(IdOf(old), Derive(old));
    }

    /// <summary>The id recorded in everything sealed now; rows with another id still need `secrets rotate`.</summary>
    public string CurrentKeyId { get; }

    public byte[] Seal(ReadOnlySpan<byte> plaintext, string context)
    {
        var id = Encoding.ASCII.GetBytes(CurrentKeyId);
        var sealedValue = new byte[2 + id.Length + NonceBytes + TagBytes + plaintext.Length];
        sealedValue[0] = Format;
        sealedValue[1] = (byte)id.Length;
        id.CopyTo(sealedValue, 2);
        var offset = 2 + id.Length;
        var nonce = sealedValue.AsSpan(offset, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_keys[CurrentKeyId], TagBytes);
        aes.Encrypt(nonce, plaintext, sealedValue.AsSpan(offset + NonceBytes + TagBytes), sealedValue.AsSpan(offset + NonceBytes, TagBytes),
            Encoding.UTF8.GetBytes(context));
        return sealedValue;
    }

    public byte[] Open(ReadOnlySpan<byte> sealedValue, string context)
    {
        var keyId = KeyIdOf(sealedValue) ?? throw new SecretUnavailableException("the value is not in a format this service writes");
        if (!_keys.TryGetValue(keyId, out var key))
        {
            throw new SecretUnavailableException($"it was encrypted under key {keyId}, which is neither ENCRYPTION_KEY nor in ENCRYPTION_KEYS_OLD");
        }
        var offset = 2 + keyId.Length;
        var plaintext = new byte[sealedValue.Length - offset - NonceBytes - TagBytes];
        using var aes = new AesGcm(key, TagBytes);
        try
        {
            aes.Decrypt(sealedValue.Slice(offset, NonceBytes), sealedValue[(offset + NonceBytes + TagBytes)..], sealedValue.Slice(offset + NonceBytes, TagBytes),
                plaintext, Encoding.UTF8.GetBytes(context));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new SecretUnavailableException($"it does not authenticate under key {keyId} for {context} (altered, or copied from another record)");
        }
        return plaintext;
    }

    /// <summary>
    /// A 32-byte key for another purpose (HKDF-SHA256 of ENCRYPTION_KEY with the purpose as info and the salt given):
    /// the same inputs give the same key on every instance, and nothing about ENCRYPTION_KEY can be learnt from it.
    /// </summary>
    public byte[] DeriveKey(string purpose, ReadOnlySpan<byte> salt) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _currentKeyMaterial, 32, salt.ToArray(), Encoding.UTF8.GetBytes(purpose));

    /// <summary>The key id a sealed value records; null when it is not a sealed value.</summary>
    public static string? KeyIdOf(ReadOnlySpan<byte> sealedValue)
    {
        if (sealedValue.Length < 2 || sealedValue[0] != Format) return null;
        var length = sealedValue[1];
        return sealedValue.Length < 2 + length + NonceBytes + TagBytes ? null : Encoding.ASCII.GetString(sealedValue.Slice(2, length));
    }

    /// <summary>A short public name for a key: not the key, and not enough to find it.</summary>
    public static string IdOf(string key) =>
        "k" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("service.secrets.key-id:" + key)))[..12];

    private static byte[] Derive(string key) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(key), 32, salt: [], info: DerivationInfo);
}

/// <summary>A stored secret that cannot be decrypted with the configured keys. Its message never holds a secret.</summary>
public sealed class SecretUnavailableException(string reason) : Exception($"A stored secret cannot be decrypted: {reason}.");
