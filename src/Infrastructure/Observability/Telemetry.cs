using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Service.Infrastructure.Observability;

/// <summary>
/// OpenTelemetry traces and metrics exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; off, and free,
/// otherwise. Sources: ASP.NET Core, HttpClient, Npgsql (their own activities and meters) and the service's own.
/// </summary>
public sealed class Telemetry(IConfiguration configuration, ILogger<Telemetry> logger) : IHostedService, IDisposable
{
    private TracerProvider? _traces;
    private MeterProvider? _metrics;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is not { Length: > 0 } endpoint) return Task.CompletedTask;
        var baseUri = new Uri(endpoint.TrimEnd('/') + "/");
        var interval = configuration.GetValue("Telemetry:ExportIntervalMilliseconds", 5000);
        var resource = ResourceBuilder.CreateDefault().AddService(
            configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "workflow-service", serviceVersion: ServiceDiagnostics.Version);

        _traces = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource("Microsoft.AspNetCore", "System.Net.Http", "Npgsql", $"{ServiceDiagnostics.Prefix}.*")
            .AddOtlpExporter(o =>
            {
                // With HTTP/protobuf a programmatic endpoint is used as is: the signal's path must be on it.
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = new Uri(baseUri, "v1/traces");
                o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = interval;
            })
            .Build();
        _metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "Npgsql",
                ServiceDiagnostics.Prefix, $"{ServiceDiagnostics.Prefix}.*")
            .AddOtlpExporter((o, reader) =>
            {
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = new Uri(baseUri, "v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = interval;
            })
            .Build();
        logger.LogInformation("Exporting traces and metrics over OTLP to {Endpoint}", baseUri);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _traces?.ForceFlush(2000);
        _metrics?.ForceFlush(2000);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _traces?.Dispose();
        _metrics?.Dispose();
        (_traces, _metrics) = (null, null); // a host stopped again after disposal flushes nothing
    }
}

/// <summary>
/// Names the request's span after its route template ("GET /api/v1/orgs/{orgId:guid}/events/") and tags http.route,
/// so traces group by endpoint rather than by every distinct URL.
/// </summary>
public sealed class RouteTagging(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        // Only for spans being recorded (an exporter listens): nothing to do, and nothing allocated, when telemetry is off.
        if (Activity.Current is { Recorded: true } activity && context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route })
        {
            var template = "/" + route.TrimStart('/');
            activity.DisplayName = $"{context.Request.Method} {template}";
            activity.SetTag("http.route", template);
        }
        return next(context);
    }
}
