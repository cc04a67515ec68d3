using Service.Infrastructure.Security;

namespace Service.Features.Admin;

/// <summary>Operator tools: only users whose email is in ADMIN_EMAILS. Never behind a feature gate.</summary>
public static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/admin").WithTags("Admin").RequireAuthorization(AuthPolicies.Ops);
        ListFeatureFlags.Map(group);
        SetFeatureFlag.Map(group);
        ListAuditLog.Map(group);
        GetDatabasePool.Map(group);
        return app;
    }
}
