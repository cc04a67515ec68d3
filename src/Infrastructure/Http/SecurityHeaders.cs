using System.Security.Cryptography;

namespace Service.Infrastructure.Http;

/// <summary>Headers every API response carries. The Server banner is removed in Kestrel's options.</summary>
public sealed class SecurityHeaders(RequestDelegate next)
{
    private const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";
    private static readonly object PageNonceKey = new();

    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            headers.ContentSecurityPolicy = context.Items.TryGetValue(PageNonceKey, out var nonce) ? PagePolicy((string)nonce!) : ApiPolicy;
            headers.CacheControl = headers.CacheControl.Count == 0 ? "no-store" : headers.CacheControl;
            return Task.CompletedTask;
        });
        return next(context);
    }

    /// <summary>
    /// For the one HTML page the service serves (the API reference): this response's policy lets the page run its
    /// same-origin script and the inline scripts carrying the returned nonce, style itself, and call this origin.
    /// </summary>
    public static string UsePagePolicy(HttpContext context)
    {
        if (context.Items.TryGetValue(PageNonceKey, out var existing)) return (string)existing!;
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)); // nothing for HTML to encode
        context.Items[PageNonceKey] = nonce;
        return nonce;
    }

    private static string PagePolicy(string nonce) =>
        $"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}
