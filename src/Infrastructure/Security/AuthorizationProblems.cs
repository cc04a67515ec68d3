using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Service.Infrastructure.Security;

/// <summary>Authorization outcomes as problem details: 401 (with the scheme's challenge), 403, or 404 for hidden resources.</summary>
public sealed class AuthorizationProblems(IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (result.Succeeded)
        {
            await _default.HandleAsync(next, context, policy, result);
            return;
        }

        if (result.Challenged)
        {
            await context.ChallengeAsync();
            // The handler ran already and keeps its result for the request: this reads it, it does not redeem again.
            var failure = (await context.AuthenticateAsync()).Failure;
            await WriteAsync(context, StatusCodes.Status401Unauthorized, "Authentication required", failure is StreamTicketRejected ? failure.Message
                : "Send a valid access token (Authorization: Bearer ...) or agent key (Authorization: ApiKey ...).");
            return;
        }

        if (result.AuthorizationFailure?.FailureReasons.Any(r => r is HiddenResourceFailure) == true)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, "Not Found", null);
            return;
        }

        var reason = result.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message;
        await WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden", reason is null ? null : $"Not allowed: {reason}.");
    }

    private async Task WriteAsync(HttpContext context, int status, string title, string? detail)
    {
        context.Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}
