namespace Service.Features.Overview;

/// <summary>The dashboard's overview of an organization: every member reads it; agent keys have no access.</summary>
public static class OverviewEndpoints
{
    public static IEndpointRouteBuilder MapOverview(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/overview").WithTags("Overview");
        GetOverview.Map(group);
        return app;
    }
}
