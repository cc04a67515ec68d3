using Microsoft.AspNetCore.Authorization;

namespace Service.Infrastructure.Security;

/// <summary>The named policies every route picks from. A route without one fails the authorization matrix test.</summary>
public static class AuthPolicies
{
    public const string User = "user";
    public const string OrgViewer = "org:viewer";
    public const string OrgMember = "org:member";
    public const string OrgAdmin = "org:admin";
    public const string OrgOwner = "org:owner";
    public const string OrgIngest = "org:ingest";
    public const string Ops = "ops";

    public static void Register(AuthorizationBuilder builder)
    {
        // No fallback policy: it would also apply to requests that match no route, turning 404/405 into 401.
        // Instead the authorization matrix test fails for any route mapped without one of these policies.
        builder
            .AddPolicy(User, p => p.RequireAuthenticatedUser().AddRequirements(new UserRequirement()))
            .AddPolicy(OrgViewer, p => p.RequireAuthenticatedUser().AddRequirements(new OrgRoleRequirement(OrgRole.Viewer)))
            .AddPolicy(OrgMember, p => p.RequireAuthenticatedUser().AddRequirements(new OrgRoleRequirement(OrgRole.Member)))
            .AddPolicy(OrgAdmin, p => p.RequireAuthenticatedUser().AddRequirements(new OrgRoleRequirement(OrgRole.Admin)))
            .AddPolicy(OrgOwner, p => p.RequireAuthenticatedUser().AddRequirements(new OrgRoleRequirement(OrgRole.Owner)))
            .AddPolicy(OrgIngest, p => p.RequireAuthenticatedUser().AddRequirements(new OrgIngestRequirement()))
            .AddPolicy(Ops, p => p.RequireAuthenticatedUser().AddRequirements(new OpsRequirement()));
    }

    public static string ForRole(OrgRole role) => role switch
    {
        OrgRole.Viewer => OrgViewer,
        OrgRole.Member => OrgMember,
        OrgRole.Admin => OrgAdmin,
        _ => OrgOwner,
    };

    public static TBuilder RequireOrgRole<TBuilder>(this TBuilder builder, OrgRole role) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(ForRole(role));
}
