using System.Security.Claims;

namespace Service.Infrastructure.Security;

/// <summary>The claims this service puts on users (JWT) and agents (API keys), and how to read them.</summary>
public static class PrincipalClaims
{
    public const string Subject = "sub";
    public const string Email = "email";
    /// <summary>When the access token (or the token behind a stream ticket) expires, in Unix seconds.</summary>
    public const string Expires = "exp";
    public const string ApiKeyId = "api_key_id";
    public const string ApiKeyOrgId = "api_key_org";
    public const string Permission = "permission";
    public const string IngestPermission = "ingest";

    public static Guid? UserId(this ClaimsPrincipal principal) =>
        Guid.TryParse(principal.FindFirstValue(Subject), out var id) ? id : null;

    /// <summary>The signed-in user's id; only call behind a policy that requires a user.</summary>
    public static Guid RequiredUserId(this ClaimsPrincipal principal) =>
        principal.UserId() ?? throw new InvalidOperationException("endpoint requires a user principal");

    /// <summary>A principal with only the claims of the given types, detached from the token it was read from.</summary>
    public static ClaimsPrincipal Keep(ClaimsPrincipal principal, string authenticationType, params string[] types) =>
        new(new ClaimsIdentity(principal.Claims.Where(c => types.Contains(c.Type)).Select(c => new Claim(c.Type, c.Value, c.ValueType)),
            authenticationType, Subject, null));

    public static DateTimeOffset? ExpiresAt(this ClaimsPrincipal principal) =>
        long.TryParse(principal.FindFirstValue(Expires), out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;

    public static bool IsApiKey(this ClaimsPrincipal principal) => principal.HasClaim(c => c.Type == ApiKeyId);

    public static Guid? ApiKeyOrg(this ClaimsPrincipal principal) =>
        Guid.TryParse(principal.FindFirstValue(ApiKeyOrgId), out var id) ? id : null;

    /// <summary>"user:{id}" or "api_key:{id}", for the audit log and logs.</summary>
    public static (string Type, string? Id) Actor(this ClaimsPrincipal principal) =>
        principal.IsApiKey() ? ("api_key", principal.FindFirstValue(ApiKeyId))
        : principal.UserId() is { } user ? ("user", user.ToString())
        : ("system", null);

    /// <summary>
    /// The user or API key calling ("user" or "api_key", and its id), as stored with what it sends; only behind a
    /// policy that admits users and keys alone (org:ingest).
    /// </summary>
    public static (string Type, Guid Id) Caller(this ClaimsPrincipal principal) =>
        principal.Actor() is (var type, { } id) && type != "system" ? (type, Guid.Parse(id))
        : throw new InvalidOperationException("endpoint requires a user or API key principal");
}
