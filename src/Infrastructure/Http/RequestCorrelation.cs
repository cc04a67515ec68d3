using System.Diagnostics;

namespace Service.Infrastructure.Http;

/// <summary>
/// Accepts a caller's X-Request-Id (or makes one), echoes it on every response, and puts it in the log scope of
/// everything the request logs. The W3C trace id comes from the framework's own traceparent handling.
/// Also writes the one access-log line per request: method, path (never the query string), status, duration.
/// </summary>
public sealed partial class RequestCorrelation(RequestDelegate next, ILogger<RequestCorrelation> logger)
{
    public const string HeaderName = "X-Request-Id";
    private const int MaxLength = 128;

    public async Task InvokeAsync(HttpContext context)
    {
        var requestId = Accept(context.Request.Headers[HeaderName].ToString()) ?? Guid.NewGuid().ToString("N");
        context.TraceIdentifier = requestId;
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[HeaderName] = requestId;
            return Task.CompletedTask;
        });

        using var scope = logger.BeginScope("RequestId:{RequestId}", requestId);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
            {
                LogAborted(logger, context.Request.Method, context.Request.Path, elapsed);
            }
            else if (context.Request.Path.StartsWithSegments("/health"))
            {
                // Orchestrators poll every few seconds: keep probes out of the default log.
                LogProbe(logger, context.Request.Method, context.Request.Path, context.Response.StatusCode, elapsed);
            }
            else
            {
                LogRequest(logger, context.Request.Method, context.Request.Path, context.Response.StatusCode, elapsed);
            }
        }
    }

    // Only visible ASCII without separators, so the value is safe in headers and logs.
    private static string? Accept(string value) =>
        value.Length is > 0 and <= MaxLength && value.All(c => c is > ' ' and < '\u007f' and not '"' and not ',' and not ';') ? value : null;

    [LoggerMessage(LogLevel.Information, "HTTP {Method} {Path} responded {StatusCode} in {ElapsedMs:F1} ms")]
    private static partial void LogRequest(ILogger logger, string method, PathString path, int statusCode, double elapsedMs);

    [LoggerMessage(LogLevel.Debug, "HTTP {Method} {Path} responded {StatusCode} in {ElapsedMs:F1} ms")]
    private static partial void LogProbe(ILogger logger, string method, PathString path, int statusCode, double elapsedMs);

    [LoggerMessage(LogLevel.Information, "HTTP {Method} {Path} aborted by the client after {ElapsedMs:F1} ms")]
    private static partial void LogAborted(ILogger logger, string method, PathString path, double elapsedMs);
}
