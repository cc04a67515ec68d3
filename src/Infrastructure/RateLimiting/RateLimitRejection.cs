using System.Globalization;
using Microsoft.AspNetCore.RateLimiting;

namespace Service.Infrastructure.RateLimiting;

/// <summary>Refusals as problem details: 429 over a limit, 503 when a fail-closed policy cannot reach Redis. Both with Retry-After.</summary>
public static class RateLimitRejection
{
    public static async ValueTask WriteAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var lease = rejected.Lease as RateLimitDecisionLease;
        var retryAfter = Math.Max(1, (int)Math.Ceiling((lease?.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalSeconds));
        context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);

        var unavailable = lease?.Unavailable == true;
        var status = unavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status429TooManyRequests;
        context.Response.StatusCode = status;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = status,
                Title = unavailable ? "Temporarily unavailable" : "Too many requests",
                Detail = unavailable
                    ? $"Rate limiting for '{lease!.Policy}' cannot be checked right now; retry in {retryAfter} s."
                    : $"Rate limit '{lease?.Policy}' exceeded; retry in {retryAfter} s.",
                Extensions = { ["policy"] = lease?.Policy, ["retryAfterSeconds"] = retryAfter },
            },
        });
    }
}
