using System.Security.Cryptography;

namespace Service.Infrastructure.Http;

/// <summary>Headers every API response carries. The Server banner is removed in Kestrel's options.</summary>
public sealed class SecurityHeaders(RequestDelegate next)
{
    private const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    // A request feature rather than HttpContext.Items: Items is created on first use, and every response asks.
    private sealed record PageNonce(string Value);

    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            headers.ContentSecurityPolicy = context.Features.Get<PageNonce>() is { } nonce ? PagePolicy(nonce.Value) : ApiPolicy;
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
        if (context.Features.Get<PageNonce>() is { } existing) return existing.Value;
        var nonce = new PageNonce(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))); // hex: nothing for HTML to encode
        context.Features.Set(nonce);
        return nonce.Value;
    }

    private static string PagePolicy(string nonce) =>
        $"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}
