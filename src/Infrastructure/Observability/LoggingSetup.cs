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
        return builder;
    }
}
