namespace Service.Infrastructure.Observability;

public static class LoggingSetup
{
    /// <summary>
    /// Every log line carries the trace and span ids (plus the request id scope). The console format comes from
    /// configuration: readable in Development, one JSON object per line in Production (appsettings.Production.json).
    /// </summary>
    public static WebApplicationBuilder AddLogging(this WebApplicationBuilder builder)
    {
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        // The framework's "Request starting/finished" lines include the query string, where tokens can travel; no
        // configured log level may bring them back. RequestCorrelation writes the access log without it.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        return builder;
    }
}
