using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Service.Infrastructure.Security;

namespace Service.Infrastructure.RateLimiting;

/// <summary>
/// Who a request counts against: the API key or the user when authenticated, else the client IP (which the
/// forwarded-headers middleware has already taken from X-Forwarded-For when, and only when, a known proxy sent it).
/// The auth policy counts every request twice: against the IP and against the target account.
/// </summary>
public sealed record ClientIdentity(IReadOnlyList<string> Keys, string? ApiKeyId, string? UserId, IPAddress? Ip)
{
    private const int MaxBodyBytesToInspect = 8 * 1024;

    /// <summary>The id overrides are keyed by: the API key id, else the user id.</summary>
    public string? PrincipalId => ApiKeyId ?? UserId;

    public static async ValueTask<ClientIdentity> ResolveAsync(HttpContext context, string policy, CancellationToken cancellationToken)
    {
        var apiKeyId = context.User.FindFirst(PrincipalClaims.ApiKeyId)?.Value;
        var userId = context.User.UserId()?.ToString();
        var ip = context.Connection.RemoteIpAddress is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : context.Connection.RemoteIpAddress;
        var ipKey = "ip:" + (ip?.ToString() ?? "unknown");

        if (policy == RateLimitPolicies.Auth)
        {
            // A signed-in caller (account deletion re-enters the password) is its own target account.
            var account = userId is not null ? Hash("user:" + userId) : await ReadTargetAccountAsync(context.Request, cancellationToken);
            return new ClientIdentity(account is null ? [ipKey] : [ipKey, "account:" + account], apiKeyId, userId, ip);
        }
        var key = apiKeyId is not null ? "key:" + apiKeyId : userId is not null ? "user:" + userId : ipKey;
        return new ClientIdentity([key], apiKeyId, userId, ip);
    }

    /// <summary>
    /// The account a login, registration or refresh targets (normalized email, or the refresh token), hashed so
    /// Redis never holds an email or a token. Small JSON bodies only; the body is rewound for the endpoint.
    /// </summary>
    private static async ValueTask<string?> ReadTargetAccountAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength is not (> 0 and <= MaxBodyBytesToInspect) || request.HasJsonContentType() is false) return null;
        request.EnableBuffering();
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            if (document.RootElement.ValueKind != JsonValueKind.Object) return null;
            string? target = null;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String) continue;
                if (property.NameEquals("email")) target = "email:" + EmailAddresses.Normalize(property.Value.GetString()!);
                else if (property.NameEquals("refreshToken")) target = "refresh:" + property.Value.GetString();
            }
            return target is null ? null : Hash(target);
        }
        catch (JsonException)
        {
            return null; // the endpoint answers the malformed body with 400
        }
        finally
        {
            request.Body.Position = 0;
        }
    }

    private static string Hash(string target) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(target)))[..32];
}
