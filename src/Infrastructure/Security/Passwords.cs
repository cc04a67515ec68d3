using Microsoft.AspNetCore.Identity;

namespace Service.Infrastructure.Security;

/// <summary>The type PasswordHasher is keyed on; the hasher (PBKDF2, from the shared framework) does not read it.</summary>
public sealed class UserAccount;

public sealed class Passwords(IPasswordHasher<UserAccount> hasher)
{
    private static readonly UserAccount Account = new();

    // A real hash of a random password, verified when the email is unknown so that both failures cost the same.
    private readonly Lazy<string> _decoyHash = new(() => hasher.HashPassword(Account, Guid.NewGuid().ToString()));

    public string Hash(string password) => hasher.HashPassword(Account, password);

    /// <summary>Verifies against the stored hash, or against a decoy when there is none (unknown email): same cost either way.</summary>
    public bool Verify(string? storedHash, string password) =>
        hasher.VerifyHashedPassword(Account, storedHash ?? _decoyHash.Value, password) != PasswordVerificationResult.Failed
        && storedHash is not null;
}
