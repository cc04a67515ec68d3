using Service.Infrastructure.Security;

namespace Service.Features.Account;

/// <summary>The signed-in user's own data: everything stored about them, and their way out.</summary>
public static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccount(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/account").WithTags("Account").RequireAuthorization(AuthPolicies.User);
        ExportAccount.Map(group);
        DeleteAccount.Map(group);
        return app;
    }
}
