using Npgsql;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Service.Infrastructure.Observability;

public static class TelemetryRegistration
{
    /// <summary>
    /// OpenTelemetry traces and metrics over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; nothing is registered,
    /// and nothing costs anything, otherwise. The instrumentation packages cover ASP.NET Core (server spans named by
    /// route template), HttpClient, Npgsql, StackExchange.Redis and the runtime; the service adds its own "Service.*".
    /// </summary>
    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is not { Length: > 0 } endpoint) return builder;
        var baseUri = new Uri(endpoint.TrimEnd('/') + "/");
        var interval = configuration.GetValue("Telemetry:ExportIntervalMilliseconds", 5000);
        var name = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } configured ? configured : "workflow-service";

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(name, serviceVersion: ServiceDiagnostics.Version))
            .WithTracing(tracing => tracing
                // Probes are polled every few seconds by every orchestrator: not worth a span each.
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/health"))
                .AddHttpClientInstrumentation()
                .AddNpgsql()
                .AddRedisInstrumentation()
                .AddSource($"{ServiceDiagnostics.Prefix}.*")
                .AddOtlpExporter(o =>
                {
                    // With HTTP/protobuf an endpoint set in code is used as is: the signal's path must be on it.
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = new Uri(baseUri, "v1/traces");
                    o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = interval;
                }))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddMeter(ServiceDiagnostics.Prefix, $"{ServiceDiagnostics.Prefix}.*")
                .AddOtlpExporter((o, reader) =>
                {
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = new Uri(baseUri, "v1/metrics");
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = interval;
                }));
        return builder;
    }
}
