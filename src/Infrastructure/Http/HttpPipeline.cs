using System.Diagnostics;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Http;

/// <summary>What every request shares: problem details, correlation, limits, CORS, security headers, OpenAPI.</summary>
public static class HttpPipeline
{
    public const string CorsPolicyName = "frontend";

    /// <summary>Response headers a browser frontend may read: correlation, paging and retry hints, rate limits, replays, versions.</summary>
    public static readonly string[] ExposedHeaders =
    [
        RequestCorrelation.HeaderName, "Retry-After", "Location", "ETag", "Idempotent-Replayed",
        "RateLimit", "RateLimit-Policy", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
    ];

    public static WebApplicationBuilder AddHttpBasics(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<HttpOptions>(HttpOptions.Section);
        services.AddValidatedOptions<CorsPolicyOptions>(CorsPolicyOptions.Section);
        services.AddSingleton<IValidateOptions<CorsPolicyOptions>, CorsPolicyOptionsValidator>();

        services.Configure<KestrelServerOptions>(o => o.AddServerHeader = false);
        services.AddSingleton<IValidateOptions<HttpOptions>, HttpOptionsValidator>();
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<HttpOptions>>((forwarded, http) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            foreach (var network in SettingLists.Networks(http.Value.TrustedProxies)) forwarded.KnownIPNetworks.Add(network);
        });
        // The host reads HostOptions before the startup guard runs.
        services.AddOptions<HostOptions>().Configure<IConfiguration>((host, configuration) =>
        {
            var http = configuration.ReadUnvalidated<HttpOptions>(HttpOptions.Section);
            host.ShutdownTimeout = TimeSpan.FromSeconds(Math.Max(0, http.ShutdownTimeoutSeconds + http.ShutdownDelaySeconds));
        });

        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            ctx.ProblemDetails.Instance ??= ctx.HttpContext.Request.Path;
            ctx.ProblemDetails.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? ctx.HttpContext.TraceIdentifier;
            ctx.ProblemDetails.Extensions["requestId"] = ctx.HttpContext.TraceIdentifier;
        });
        // After the framework's own writer (registered by AddProblemDetails), consulted only when it declines.
        services.AddSingleton<IProblemDetailsWriter, ProblemJsonFallbackWriter>();
        services.AddExceptionHandler<UnhandledExceptionHandler>();
        // Field errors keyed like the JSON the client sent ("displayName", not "DisplayName").
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.DictionaryKeyPolicy = System.Text.Json.JsonNamingPolicy.CamelCase;
            o.SerializerOptions.Converters.Add(new NulCharacters.RefusingStringConverter());
        });
        services.AddValidation();
        // Malformed JSON and bad parameters reach the exception handler, which answers them as problem details.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>().Configure<IOptions<CorsPolicyOptions>>((cors, settings) =>
            cors.AddPolicy(CorsPolicyName, policy => policy
                .WithOrigins(settings.Value.AllowedOrigins.ToArray())
                .AllowAnyHeader()
                .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
                .WithExposedHeaders(ExposedHeaders)
                .SetPreflightMaxAge(TimeSpan.FromSeconds(settings.Value.PreflightMaxAgeSeconds))));

        services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer<OpenApiDocumentDefaults>();
            o.AddOperationTransformer<OpenApiDocumentDefaults>();
            o.AddOperationTransformer<OpenApiProblemResponses>();
        });
        return builder;
    }

    public static WebApplication UseHttpBasics(this WebApplication app)
    {
        app.UseForwardedHeaders(); // first: everything after sees the client's IP and scheme
        app.UseMiddleware<RequestCorrelation>();
        app.UseMiddleware<SecurityHeaders>();
        app.UseExceptionHandler();
        app.UseStatusCodePages(); // empty 404/405 and friends get a problem details body
        app.UseMiddleware<NulCharacters.QueryGuard>();
        app.UseCors(CorsPolicyName);
        app.UseRouting();
        app.UseMiddleware<Database.DatabaseCircuitMiddleware>(); // before authentication, whose API key lookup is database work
        app.UseMiddleware<RequestBodyLimit>(); // after routing: an endpoint may declare its own limit
        app.UseAuthentication();
        app.UseRateLimiter(); // after authentication (limits are per user or key), before authorization and the endpoint
        app.UseAuthorization();
        return app;
    }
}
