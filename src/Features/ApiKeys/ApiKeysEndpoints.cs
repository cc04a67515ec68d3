using Service.Infrastructure.Security;

namespace Service.Features.ApiKeys;

/// <summary>Agent keys of an organization; managing them is for admins and owners.</summary>
public static class ApiKeysEndpoints
{
    public static IEndpointRouteBuilder MapApiKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/api-keys")
            .WithTags("ApiKeys")
            .RequireOrgRole(OrgRole.Admin);
        CreateApiKey.Map(group);
        ListApiKeys.Map(group);
        RotateApiKey.Map(group);
        RevokeApiKey.Map(group);
        return app;
    }
}
