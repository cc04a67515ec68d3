using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Http;

/// <summary>
/// Writes problem details as JSON when the framework's writer declines because the request's Accept header names no
/// JSON type: a browser's EventSource sends only "Accept: text/event-stream", and its 401/429 must still be problem
/// details (with traceId), not a 500 from a writer that cannot be found.
/// </summary>
public sealed class ProblemJsonFallbackWriter(IOptions<ProblemDetailsOptions> options) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        options.Value.CustomizeProblemDetails?.Invoke(context);
        var problem = context.ProblemDetails;
        problem.Status ??= context.HttpContext.Response.StatusCode;
        return new ValueTask(context.HttpContext.Response.WriteAsJsonAsync(problem, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails),
            JsonSerializerOptions.Web, "application/problem+json", context.HttpContext.RequestAborted));
    }
}
