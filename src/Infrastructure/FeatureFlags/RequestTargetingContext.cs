using Microsoft.FeatureManagement.FeatureFilters;
using Service.Infrastructure.Security;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>
/// Who a request is, for targeted release flags: the signed-in user (or agent key) and, as the only group, the
/// organization in the route or the one the agent key belongs to. Read from the request alone, no I/O.
/// </summary>
public sealed class RequestTargetingContext(IHttpContextAccessor http) : ITargetingContextAccessor
{
    private static readonly object CacheKey = new();

    public ValueTask<TargetingContext> GetContextAsync()
    {
        var context = http.HttpContext;
        if (context is null) return ValueTask.FromResult(new TargetingContext());
        if (context.Items.TryGetValue(CacheKey, out var cached) && cached is TargetingContext known) return ValueTask.FromResult(known);

        var user = context.User;
        var orgId = context.Request.RouteValues.TryGetValue("orgId", out var route) && Guid.TryParse(route?.ToString(), out var routeOrg)
            ? routeOrg
            : user.ApiKeyOrg();
        var targeting = new TargetingContext
        {
            UserId = user.UserId()?.ToString() ?? (user.IsApiKey() ? $"api_key:{user.FindFirst(PrincipalClaims.ApiKeyId)?.Value}" : null),
            Groups = orgId is { } org ? [org.ToString()] : [],
        };
        context.Items[CacheKey] = targeting;
        return ValueTask.FromResult(targeting);
    }
}
