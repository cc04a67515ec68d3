namespace Service.Infrastructure.ErrorReporting;

/// <summary>
/// Sees every log entry: Information and above become breadcrumbs; Error and above with an exception are reported
/// (failed background jobs, errors a slice logged). Resolves the reporter on first need, so building it never
/// waits on the logging system it is part of.
/// </summary>
public sealed class ErrorReportingLoggerProvider(IServiceProvider services, Breadcrumbs breadcrumbs, TimeProvider time) : ILoggerProvider
{
    private SentryErrorReporter? _reporter;
    private bool _enabled;
    private bool _decided;

    /// <summary>
    /// Whether a DSN is set: until then logging costs nothing extra. Undecided while the settings cannot be read yet
    /// (invalid settings are the startup guard's to report, not the logger's).
    /// </summary>
    private bool Enabled()
    {
        if (_decided) return _enabled;
        try
        {
            _reporter = services.GetRequiredService<SentryErrorReporter>();
            _enabled = _reporter.Dsn is not null;
            if (_enabled) breadcrumbs.Capacity = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ErrorReportingOptions>>().Value.MaxBreadcrumbs;
            _decided = true;
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException)
        {
            return false;
        }
        return _enabled;
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    private void Record(LogLevel level, string category, string message, Exception? exception)
    {
        if (level >= LogLevel.Error && exception is not null) _reporter!.Capture(exception, handled: true, message, category);
        breadcrumbs.Add(new Breadcrumb(time.GetUtcNow(), category, Logger.Level(level), message));
    }

    public void Dispose() { }

    private sealed class Logger(ErrorReportingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel) || category.StartsWith("Service.Infrastructure.ErrorReporting", StringComparison.Ordinal) || !owner.Enabled()) return;
            var message = formatter(state, exception);
            owner.Record(logLevel, category, message, exception);
        }

        public static string Level(LogLevel level) => level switch
        {
            LogLevel.Warning => "warning",
            LogLevel.Error => "error",
            LogLevel.Critical => "fatal",
            _ => "info",
        };
    }
}
