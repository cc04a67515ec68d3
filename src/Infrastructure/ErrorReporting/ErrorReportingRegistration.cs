using Microsoft.Extensions.Options;
using Sentry.AspNetCore;
using Sentry.Extensibility;
using Sentry.Extensions.Logging;
using Service.Infrastructure.Http;
using Service.Infrastructure.Observability;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.ErrorReporting;

public static class ErrorReportingRegistration
{
    /// <summary>
    /// The Sentry SDK (UseSentry) with our settings and scrubbing, when a valid DSN is set and SampleRate is above 0.
    /// Decided while the builder runs: the SDK's hub is process-wide, so an instance that does not report must not
    /// register it at all. An invalid DSN registers nothing here; the startup guard then refuses to start.
    /// </summary>
    public static WebApplicationBuilder AddErrorReporting(this WebApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<ErrorReportingOptions>(ErrorReportingOptions.Section);
        builder.Services.AddSingleton<IValidateOptions<ErrorReportingOptions>, ErrorReportingOptionsValidator>();

        var settings = builder.Configuration.ReadUnvalidated<ErrorReportingOptions>(ErrorReportingOptions.Section);
        if (!settings.Reports) return builder;

        builder.WebHost.UseSentry();
        builder.Services.AddOptions<SentryAspNetCoreOptions>().Configure<IHttpContextAccessor>((sentry, http) =>
        {
            sentry.Dsn = settings.Dsn;
            if (settings.SampleRate < 1) sentry.SampleRate = (float)settings.SampleRate;
            sentry.SendDefaultPii = settings.SendDefaultPii;
            sentry.MaxBreadcrumbs = settings.MaxBreadcrumbs;
            sentry.MaxQueueItems = settings.QueueCapacity;
            sentry.ShutdownTimeout = TimeSpan.FromSeconds(settings.ShutdownTimeoutSeconds);
            sentry.ConfigureClient = client => client.Timeout = TimeSpan.FromSeconds(settings.SendTimeoutSeconds);
            sentry.Release = ServiceDiagnostics.Version;
            sentry.ServerName = Environment.MachineName;
            sentry.MaxRequestBodySize = RequestSize.None; // request bodies are never sent
            sentry.AutoRegisterTracing = false; // traces go to OpenTelemetry
            sentry.ReportAssembliesMode = ReportAssembliesMode.None; // the release names the build
            // The exception handler's own error line: the SDK's middleware reports that exception with its request.
            sentry.AddLogEntryFilter((category, _, _, exception) => exception is not null && category == typeof(UnhandledExceptionHandler).FullName);

            var scrubbing = new ErrorReportScrubbing(http, settings.SendDefaultPii);
            sentry.SetBeforeSend(scrubbing.BeforeSend);
            sentry.SetBeforeBreadcrumb(scrubbing.BeforeBreadcrumb);
        });
        return builder;
    }
}
