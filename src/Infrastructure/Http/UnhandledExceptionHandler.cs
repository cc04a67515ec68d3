using Microsoft.AspNetCore.Diagnostics;
using Service.Infrastructure.ErrorReporting;

namespace Service.Infrastructure.Http;

/// <summary>
/// The last line: turns any exception into problem details. Malformed requests keep their 4xx status; a client that
/// went away is not an error; everything else is a 500 whose text is only shown in Development.
/// </summary>
public sealed partial class UnhandledExceptionHandler(
    IProblemDetailsService problems, IErrorReporter reporter, IHostEnvironment environment, ILogger<UnhandledExceptionHandler> logger)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (context.RequestAborted.IsCancellationRequested && exception is OperationCanceledException or IOException)
        {
            LogClientAborted(logger, context.Request.Method, context.Request.Path);
            context.Response.StatusCode = 499; // nginx's "client closed request": nobody reads it, but the access log does
            return true;
        }

        int status;
        string title;
        string? detail;
        if (exception is BadHttpRequestException bad)
        {
            status = bad.StatusCode;
            title = status == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Malformed request";
            detail = bad.Message; // written by the framework or by us about the request, never about the server
            LogBadRequest(logger, status, bad.Message);
        }
        else
        {
            status = StatusCodes.Status500InternalServerError;
            title = "An unexpected error occurred";
            detail = environment.IsDevelopment() ? exception.ToString() : "The error has been logged; quote the traceId when reporting it.";
            reporter.Capture(exception, handled: false); // before the log line, which would report it as handled
            LogUnhandled(logger, exception, context.Request.Method, context.Request.Path);
        }

        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(LogLevel.Debug, "Client aborted {Method} {Path}")]
    private static partial void LogClientAborted(ILogger logger, string method, PathString path);

    [LoggerMessage(LogLevel.Information, "Rejected a malformed request with {StatusCode}: {Reason}")]
    private static partial void LogBadRequest(ILogger logger, int statusCode, string reason);

    [LoggerMessage(LogLevel.Error, "Unhandled exception in {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, PathString path);
}
