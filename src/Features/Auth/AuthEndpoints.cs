namespace Service.Features.Auth;

public static class AuthEndpoints
{
    public static IEndpointRouteBuilder MapAuth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/auth").WithTags("Auth");
        RegisterUser.Map(group);
        LoginUser.Map(group);
        RefreshSession.Map(group);
        LogoutUser.Map(group);
        GetCurrentUser.Map(group);
        return app;
    }
}
