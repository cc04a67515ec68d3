using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Security;

namespace Service.Infrastructure.ErrorReporting;

/// <summary>
/// Builds a Sentry event (exception chain with frames, request with secrets scrubbed, user and org as tags, trace
/// and request ids, breadcrumbs) and queues it as an envelope for <see cref="ErrorReportSender"/>. A no-op while
/// no DSN is set.
/// </summary>
public sealed partial class SentryErrorReporter(
    IOptions<ErrorReportingOptions> options, IHttpContextAccessor http, IHostEnvironment environment, Breadcrumbs breadcrumbs,
    ErrorReportQueue queue, TimeProvider time) : IErrorReporter
{
    public const string Filtered = "[Filtered]";
    public static readonly string Release = typeof(SentryErrorReporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
    private static readonly string[] SecretHeaders = ["Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Proxy-Authorization"];
    private readonly ConditionalWeakTable<Exception, object> _reported = new();
    private SentryDsn? _dsn;
    private bool _initialized;

    public SentryDsn? Dsn
    {
        get
        {
            if (_initialized) return _dsn;
            _dsn = SentryDsn.TryParse(options.Value.Dsn);
            _initialized = true;
            return _dsn;
        }
    }

    public void Capture(Exception exception, bool handled, string? message = null, string? logger = null)
    {
        if (Dsn is not { } dsn || exception is OperationCanceledException) return;
        if (!_reported.TryAdd(exception, new object())) return;
        if (options.Value.SampleRate < 1 && Random.Shared.NextDouble() >= options.Value.SampleRate) return;
        try
        {
            queue.Enqueue(Envelope(dsn, exception, handled, message, logger));
        }
        catch (Exception)
        {
            // Reporting must never become the failure.
        }
    }

    private byte[] Envelope(SentryDsn dsn, Exception exception, bool handled, string? message, string? logger)
    {
        var eventId = Guid.NewGuid().ToString("N");
        var now = time.GetUtcNow();
        var payload = Event(eventId, now, exception, handled, message, logger);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("event_id", eventId);
            writer.WriteString("sent_at", now);
            writer.WriteString("dsn", dsn.Original);
            writer.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
        stream.Write(Encoding.UTF8.GetBytes($"{{\"type\":\"event\",\"length\":{payload.Length},\"content_type\":\"application/json\"}}\n"));
        stream.Write(payload);
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    private byte[] Event(string eventId, DateTimeOffset now, Exception exception, bool handled, string? message, string? logger)
    {
        var settings = options.Value;
        var context = http.HttpContext;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("event_id", eventId);
            w.WriteString("timestamp", now);
            w.WriteString("platform", "csharp");
            w.WriteString("level", handled ? "error" : "fatal");
            if (logger is not null) w.WriteString("logger", logger);
            w.WriteString("environment", environment.EnvironmentName.ToLowerInvariant());
            w.WriteString("release", Release);
            w.WriteString("server_name", Environment.MachineName);
            if (message is not null)
            {
                w.WriteStartObject("message");
                w.WriteString("formatted", message);
                w.WriteEndObject();
            }
            WriteExceptions(w, exception, handled);
            if (context is not null) WriteRequest(w, context.Request);
            WriteUserAndTags(w, context, settings.SendDefaultPii);
            if (Activity.Current is { } activity)
            {
                w.WriteStartObject("contexts");
                w.WriteStartObject("trace");
                w.WriteString("trace_id", activity.TraceId.ToHexString());
                w.WriteString("span_id", activity.SpanId.ToHexString());
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteStartObject("breadcrumbs");
            w.WriteStartArray("values");
            foreach (var crumb in breadcrumbs.Current())
            {
                w.WriteStartObject();
                w.WriteString("timestamp", crumb.Timestamp);
                w.WriteString("category", crumb.Category);
                w.WriteString("level", crumb.Level);
                w.WriteString("message", crumb.Message);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    // Sentry wants the chain oldest first: the innermost cause first, the exception that surfaced last.
    private static void WriteExceptions(Utf8JsonWriter w, Exception exception, bool handled)
    {
        var chain = new List<Exception>();
        for (var e = exception; e is not null && chain.Count < 10; e = e.InnerException) chain.Add(e);
        chain.Reverse();
        w.WriteStartObject("exception");
        w.WriteStartArray("values");
        foreach (var e in chain)
        {
            w.WriteStartObject();
            w.WriteString("type", e.GetType().FullName);
            w.WriteString("value", e.Message);
            w.WriteString("module", e.GetType().Assembly.GetName().Name);
            w.WriteStartObject("mechanism");
            w.WriteString("type", handled ? "logger" : "UnhandledExceptionHandler");
            w.WriteBoolean("handled", handled);
            w.WriteEndObject();
            var frames = new StackTrace(e, fNeedFileInfo: true).GetFrames();
            if (frames.Length > 0)
            {
                w.WriteStartObject("stacktrace");
                w.WriteStartArray("frames");
                foreach (var frame in frames.Reverse()) // caller first, the throwing frame last
                {
                    var method = frame.GetMethod();
                    w.WriteStartObject();
                    w.WriteString("function", method?.Name ?? "?");
                    if (method?.DeclaringType?.FullName is { } type) w.WriteString("module", type);
                    if (frame.GetFileName() is { } file) w.WriteString("filename", file);
                    if (frame.GetFileLineNumber() is > 0 and var line) w.WriteNumber("lineno", line);
                    w.WriteBoolean("in_app", method?.DeclaringType?.Assembly == typeof(SentryErrorReporter).Assembly);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteRequest(Utf8JsonWriter w, HttpRequest request)
    {
        var query = ScrubQuery(request.QueryString.Value);
        w.WriteStartObject("request");
        w.WriteString("method", request.Method);
        w.WriteString("url", $"{request.Scheme}://{request.Host}{request.PathBase}{request.Path}{query}");
        if (query.Length > 1) w.WriteString("query_string", query[1..]);
        w.WriteStartObject("headers");
        foreach (var (name, values) in request.Headers)
        {
            w.WriteString(name, IsSecret(name) ? Filtered : values.ToString());
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteUserAndTags(Utf8JsonWriter w, HttpContext? context, bool sendPii)
    {
        var user = context?.User;
        var userId = user?.UserId()?.ToString();
        var (actorType, actorId) = user is null ? ("system", null) : user.Actor();
        if (userId is not null || actorType == "api_key")
        {
            w.WriteStartObject("user");
            w.WriteString("id", userId ?? $"api_key:{actorId}");
            if (sendPii && user?.FindFirstValue(PrincipalClaims.Email) is { } email) w.WriteString("email", email);
            w.WriteEndObject();
        }
        w.WriteStartObject("tags");
        if (userId is not null) w.WriteString("user_id", userId);
        if (actorType == "api_key") w.WriteString("api_key_id", actorId);
        // The exception handler clears the route values before it runs; its feature keeps the original ones.
        var orgId = context?.GetRouteValue("orgId") ?? context?.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.RouteValues?["orgId"];
        if (orgId is not null) w.WriteString("org_id", orgId.ToString());
        if (context is not null) w.WriteString("request_id", context.TraceIdentifier);
        if (Activity.Current is { } activity) w.WriteString("trace_id", activity.TraceId.ToHexString());
        w.WriteEndObject();
    }

    public static bool IsSecret(string name) =>
        SecretHeaders.Contains(name, StringComparer.OrdinalIgnoreCase) || SecretName().IsMatch(name);

    /// <summary>The query string with the values of secret-looking parameters replaced.</summary>
    public static string ScrubQuery(string? query)
    {
        if (string.IsNullOrEmpty(query) || query == "?") return "";
        var parts = query.TrimStart('?').Split('&').Select(part =>
        {
            var name = Uri.UnescapeDataString(part.Split('=')[0]);
            return SecretName().IsMatch(name) || SecretQueryName().IsMatch(name) ? $"{part.Split('=')[0]}={Uri.EscapeDataString(Filtered)}" : part;
        });
        return "?" + string.Join('&', parts);
    }

    [GeneratedRegex("token|secret|password|passwd|api[-_]?key", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    // Query parameters also carry signatures and one-time codes (presigned URLs, OAuth callbacks).
    [GeneratedRegex("signature|credential|^code$|^key$|^auth", RegexOptions.IgnoreCase)]
    private static partial Regex SecretQueryName();
}
