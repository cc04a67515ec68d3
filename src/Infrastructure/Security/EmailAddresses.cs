namespace Service.Infrastructure.Security;

public static class EmailAddresses
{
    /// <summary>The form uniqueness and lookups use: trimmed, lower-cased (invariant).</summary>
    public static string Normalize(string email) => email.Trim().ToLowerInvariant();
}
