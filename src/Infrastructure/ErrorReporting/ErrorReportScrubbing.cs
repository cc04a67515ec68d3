using System.Diagnostics;
using System.Security.Claims;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Sentry;
using Service.Infrastructure.Http;
using Service.Infrastructure.Security;

namespace Service.Infrastructure.ErrorReporting;

/// <summary>
/// What the Sentry SDK sends, decided here: expected outcomes are dropped, secrets are replaced before an event or a
/// breadcrumb leaves the process, and each event is tagged with who and what it concerned. The SDK's own defaults
/// filter Authorization and cookies but still send X-Api-Key, the query string and tokens inside log messages.
/// </summary>
public sealed partial class ErrorReportScrubbing(IHttpContextAccessor http, bool sendDefaultPii)
{
    public const string Filtered = "[Filtered]";
    private static readonly string[] SecretHeaders = ["Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Proxy-Authorization"];

    public SentryEvent? BeforeSend(SentryEvent report, SentryHint hint)
    {
        var context = http.HttpContext;
        if (IsExpected(report.Exception, context)) return null;

        ScrubRequest(report.Request);
        report.Message = report.Message is { } message
            ? new SentryMessage { Formatted = ScrubText(message.Formatted), Message = ScrubText(message.Message) }
            : null;
        Tag(report, context);
        return report;
    }

    /// <summary>The SDK's breadcrumbs cannot be edited: a scrubbed copy replaces each one.</summary>
    public Breadcrumb? BeforeBreadcrumb(Breadcrumb breadcrumb, SentryHint hint) =>
        new(ScrubText(breadcrumb.Message) ?? "", breadcrumb.Type ?? "default",
            breadcrumb.Data?.ToDictionary(d => d.Key, d => IsSecret(d.Key) ? Filtered : ScrubText(d.Value) ?? ""),
            breadcrumb.Category, breadcrumb.Level);

    /// <summary>
    /// Not errors of the service: a client that went away, a cancelled operation, a malformed request (4xx), and
    /// PostgreSQL being briefly unavailable (answered 503; readiness and a warning tell operators).
    /// </summary>
    private static bool IsExpected(Exception? exception, HttpContext? context) => exception switch
    {
        null => false,
        OperationCanceledException or BadHttpRequestException => true,
        IOException when context?.RequestAborted.IsCancellationRequested == true => true,
        _ => UnhandledExceptionHandler.TransientDatabaseFailure(exception) is not null,
    };

    private static void ScrubRequest(SentryRequest request)
    {
        foreach (var name in request.Headers.Keys.ToList())
        {
            if (IsSecret(name)) request.Headers[name] = Filtered;
        }
        request.Cookies = null;
        request.Data = null;
        if (request.QueryString is { Length: > 0 } query) request.QueryString = ScrubQuery(query).TrimStart('?');
        if (request.Url is { } url && url.IndexOf('?') is var at and >= 0) request.Url = url[..at] + ScrubQuery(url[at..]);
    }

    private void Tag(SentryEvent report, HttpContext? context)
    {
        var user = context?.User;
        var userId = user?.UserId()?.ToString();
        var (actorType, actorId) = user is null ? ("system", null) : user.Actor();
        report.User = new SentryUser
        {
            Id = userId ?? (actorType == "api_key" ? $"api_key:{actorId}" : null),
            Email = sendDefaultPii ? user?.FindFirstValue(PrincipalClaims.Email) : null,
        };
        if (userId is not null) report.SetTag("user_id", userId);
        if (actorType == "api_key" && actorId is not null) report.SetTag("api_key_id", actorId);
        // The exception handler clears the route values before the SDK reports; its feature keeps the original ones.
        var orgId = context?.GetRouteValue("orgId") ?? context?.Features.Get<IExceptionHandlerFeature>()?.RouteValues?["orgId"];
        if (orgId is not null) report.SetTag("org_id", orgId.ToString()!);
        if (context is not null) report.SetTag("request_id", context.TraceIdentifier);
        if (Activity.Current is { } activity)
        {
            // The trace the logs and the problem details' traceId name, rather than the SDK's own.
            var traceId = activity.TraceId.ToHexString();
            report.SetTag("trace_id", traceId);
            report.Contexts.Trace.TraceId = SentryId.Parse(traceId);
        }
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

    /// <summary>Query strings inside free text (a logged URL, "Request starting GET /x?token=..."), scrubbed alike.</summary>
    private static string? ScrubText(string? text) =>
        text is null || !text.Contains('?') ? text : QueryInText().Replace(text, m => ScrubQuery(m.Value));

    [GeneratedRegex("token|secret|password|passwd|api[-_]?key", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    // Query parameters also carry signatures and one-time codes (presigned URLs, OAuth callbacks, stream tickets), and
    // paths as people's agents see them (the events list's pathPrefix), which privacy policies keep out of storage.
    [GeneratedRegex("signature|credential|^code$|^key$|^auth|^ticket$|path", RegexOptions.IgnoreCase)]
    private static partial Regex SecretQueryName();

    [GeneratedRegex(@"\?[^\s""'<>#]+")]
    private static partial Regex QueryInText();
}
