using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.ErrorReporting;

public static class ErrorReportingRegistration
{
    /// <summary>Always registered; everything is a no-op while SENTRY_DSN is empty (the DSN is read when first needed).</summary>
    public static IServiceCollection AddErrorReporting(this IServiceCollection services)
    {
        services.AddValidatedOptions<ErrorReportingOptions>(ErrorReportingOptions.Section);
        services.AddSingleton<IValidateOptions<ErrorReportingOptions>, ErrorReportingOptionsValidator>();
        services.AddSingleton<ErrorReportQueue>();
        services.AddSingleton<Breadcrumbs>();
        services.AddSingleton<SentryErrorReporter>();
        services.AddSingleton<IErrorReporter>(sp => sp.GetRequiredService<SentryErrorReporter>());
        services.AddSingleton<ILoggerProvider, ErrorReportingLoggerProvider>();
        services.AddHostedService<ErrorReportSender>();
        return services;
    }
}
