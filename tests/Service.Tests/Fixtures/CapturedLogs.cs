using System.Collections.Concurrent;

namespace Service.Tests.Fixtures;

/// <summary>Keeps every log line the app writes (message, scopes, exception) so tests can read them.</summary>
public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<CapturedLine> _lines = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<CapturedLine> Lines => _lines.ToArray();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<string>();
            owner._scopes.ForEachScope((scope, list) =>
            {
                list.Add(scope?.ToString() ?? "");
                if (scope is IEnumerable<KeyValuePair<string, object?>> pairs) list.AddRange(pairs.Select(p => $"{p.Key}={p.Value}"));
            }, scopes);
            var properties = state is IEnumerable<KeyValuePair<string, object?>> kv ? kv.Select(p => $"{p.Key}={p.Value}").ToList() : [];
            owner._lines.Enqueue(new CapturedLine(logLevel, category, formatter(state, exception), exception?.ToString(), scopes, properties, exception));
        }
    }
}

public sealed record CapturedLine(
    LogLevel Level, string Category, string Message, string? Exception, IReadOnlyList<string> Scopes, IReadOnlyList<string> Properties, Exception? ExceptionObject)
{
    public string AllText => string.Join("\n", [Message, Exception ?? "", .. Scopes, .. Properties]);
}
