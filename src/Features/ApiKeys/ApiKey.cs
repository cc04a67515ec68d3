using System.Security.Claims;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Security;

namespace Service.Features.ApiKeys;

/// <summary>Answered once, at creation or rotation: the full key is never stored or shown again.</summary>
public sealed record IssuedApiKeyResponse(Guid Id, string Name, string Prefix, string Key, IReadOnlyList<string> Permissions, DateTimeOffset CreatedAt, DateTimeOffset? PreviousKeyValidUntil);

/// <summary>What the org's other admins are told when a key is created, rotated or revoked (never the key itself).</summary>
public static class ApiKeyNotices
{
    public static NotificationDraft Changed(string change, Guid keyId, string name, string prefix, ClaimsPrincipal actor, string orgName) =>
        new($"api_key.{change}", $"API key \"{name}\" {change} in {orgName}",
            $"{actor.FindFirstValue(PrincipalClaims.Email) ?? "An admin"} {change} the agent key {prefix}.",
            new { keyId, name, prefix, orgName, actorId = actor.RequiredUserId() });
}
