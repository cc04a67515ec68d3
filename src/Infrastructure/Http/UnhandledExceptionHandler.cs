using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace Service.Infrastructure.Http;

/// <summary>
/// The last line: turns any exception into problem details. Malformed requests keep their 4xx status; a client that
/// went away is not an error; everything else is a 500 whose text is only shown in Development.
/// </summary>
public sealed partial class UnhandledExceptionHandler(
    IProblemDetailsService problems, IHostEnvironment environment, ILogger<UnhandledExceptionHandler> logger)
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
        if (TransientDatabaseFailure(exception) is { } failure)
        {
            // PostgreSQL unreachable, paused, overloaded or the pool exhausted: the request may well work shortly.
            // Readiness and this warning tell operators; one report per request would flood error reporting.
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
            LogDatabaseUnavailable(logger, context.Request.Method, context.Request.Path, failure.GetType().Name, failure.Message);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                Exception = exception,
                ProblemDetails = { Status = StatusCodes.Status503ServiceUnavailable, Title = "Database unavailable", Detail = "Try again shortly." },
            });
        }
        IDictionary<string, string[]>? errors = null;
        if (exception is BadHttpRequestException bad)
        {
            status = bad.StatusCode;
            title = status == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Malformed request";
            detail = bad.Message; // written by the framework or by us about the request, never about the server
            // A body that did not fit its type: name the field as the client wrote it ("events[1].path").
            if (bad.InnerException is System.Text.Json.JsonException { Path: { Length: > 2 } path } json && path.StartsWith("$.", StringComparison.Ordinal))
            {
                errors = new Dictionary<string, string[]> { [path[2..]] = [json.Message.Split(" Path:", 2)[0]] };
            }
            LogBadRequest(logger, status, bad.Message);
        }
        else if (exception is PostgresException { SqlState: "22021" or "22P05" } text)
        {
            // Text PostgreSQL cannot store (a NUL character) that slipped past the request checks: the client's, not ours.
            status = StatusCodes.Status400BadRequest;
            title = "Malformed request";
            detail = "Text must not contain the NUL character (\\u0000).";
            LogBadRequest(logger, status, text.MessageText);
        }
        else
        {
            status = StatusCodes.Status500InternalServerError;
            title = "An unexpected error occurred";
            detail = environment.IsDevelopment() ? exception.ToString() : "The error has been logged; quote the traceId when reporting it.";
            LogUnhandled(logger, exception, context.Request.Method, context.Request.Path);
        }

        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = errors is null
                ? new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail }
                : new HttpValidationProblemDetails(errors) { Status = status, Title = title, Detail = detail },
        });
    }

    private const int RetryAfterSeconds = 5;

    /// <summary>
    /// The exception (or one it wraps) that says the database is unavailable for now rather than the request wrong:
    /// connection refused or timed out, command timeout, pool exhausted (all NpgsqlException.IsTransient), and the
    /// server shutting down or out of connections.
    /// </summary>
    public static Exception? TransientDatabaseFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException postgres)
            {
                return postgres.SqlState is "57P01" or "57P02" or "57P03" or "53300" or "53400" ? postgres : null;
            }
            if (e is NpgsqlException { IsTransient: true }) return e;
        }
        return null;
    }

    [LoggerMessage(LogLevel.Warning, "Database unavailable for {Method} {Path}: {Error} ({Reason}); answered 503")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string method, PathString path, string error, string reason);

    [LoggerMessage(LogLevel.Debug, "Client aborted {Method} {Path}")]
    private static partial void LogClientAborted(ILogger logger, string method, PathString path);

    [LoggerMessage(LogLevel.Information, "Rejected a malformed request with {StatusCode}: {Reason}")]
    private static partial void LogBadRequest(ILogger logger, int statusCode, string reason);

    [LoggerMessage(LogLevel.Error, "Unhandled exception in {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, PathString path);
}
