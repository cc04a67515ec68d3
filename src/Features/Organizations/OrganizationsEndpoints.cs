namespace Service.Features.Organizations;

public static class OrganizationsEndpoints
{
    public static IEndpointRouteBuilder MapOrganizations(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs").WithTags("Organizations");
        CreateOrganization.Map(group);
        ListOrganizations.Map(group);
        GetOrganization.Map(group);
        RenameOrganization.Map(group);
        DeleteOrganization.Map(group);

        var members = group.MapGroup("/{orgId:guid}/members").WithTags("Members");
        ListMembers.Map(members);
        AddMember.Map(members);
        ChangeMemberRole.Map(members);
        RemoveMember.Map(members);
        return app;
    }
}
