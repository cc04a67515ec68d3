namespace Service.Infrastructure.Security;

/// <summary>Roles within an organization, in increasing power.</summary>
public enum OrgRole
{
    Viewer = 1,
    Member = 2,
    Admin = 3,
    Owner = 4,
}

public static class OrgRoles
{
    public static readonly string[] Names = ["owner", "admin", "member", "viewer"];

    public static string ToName(this OrgRole role) => role.ToString().ToLowerInvariant();

    public static OrgRole? Parse(string? name) => name?.ToLowerInvariant() switch
    {
        "owner" => OrgRole.Owner,
        "admin" => OrgRole.Admin,
        "member" => OrgRole.Member,
        "viewer" => OrgRole.Viewer,
        _ => null,
    };
}

/// <summary>The caller's membership in the route's organization, resolved once by the authorization handler.</summary>
public sealed record OrgMembership(Guid OrgId, Guid UserId, OrgRole Role)
{
    private const string ItemKey = "org-membership";

    public void Store(HttpContext context) => context.Items[ItemKey] = this;

    /// <summary>Available in handlers of routes behind an org-role policy.</summary>
    public static OrgMembership From(HttpContext context) =>
        context.Items[ItemKey] as OrgMembership ?? throw new InvalidOperationException("route has no org-role policy");
}
