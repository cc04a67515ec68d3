namespace Service.Features.Privacy;

/// <summary>
/// Each organization's privacy policy: what intake keeps of a path, which events it drops, which metadata it removes,
/// how long events stay. Members read, admins and owners write. The policy itself acts in Infrastructure/Privacy.
/// </summary>
public static class PrivacyEndpoints
{
    public static IEndpointRouteBuilder MapPrivacy(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/privacy").WithTags("Privacy");
        GetPrivacyPolicy.Map(group);
        UpdatePrivacyPolicy.Map(group);
        return app;
    }
}
