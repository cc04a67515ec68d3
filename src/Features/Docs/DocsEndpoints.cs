using Microsoft.Extensions.Options;
using Scalar.AspNetCore;
using Service.Infrastructure.Database;
using Service.Infrastructure.Http;
using Service.Infrastructure.Settings;

namespace Service.Features.Docs;

/// <summary>
/// The OpenAPI document at /openapi/v1.json, always; the interactive API reference over it (Scalar) at /docs where
/// Docs:Enabled allows. Both anonymous, unlimited and outside the database circuit: they touch no data.
/// </summary>
public static class DocsEndpoints
{
    public const string Path = "/docs";

    public static IServiceCollection AddDocs(this IServiceCollection services)
    {
        services.AddValidatedOptions<DocsOptions>(DocsOptions.Section);
        return services;
    }

    public static WebApplication MapDocs(this WebApplication app)
    {
        app.MapOpenApi().AllowAnonymous().DisableRateLimiting().WithoutDatabaseCircuit();
        if (app.Services.GetRequiredService<IOptions<DocsOptions>>().Value.Enabled ?? app.Environment.IsDevelopment())
        {
            app.MapScalarApiReference(Path, (options, context) => options
                    .WithTitle("Workflow service API")
                    .WithOpenApiRoutePattern("/openapi/{documentName}.json")
                    .DisableDefaultFonts() // the default fonts come from Scalar's CDN
                    .DisableAgent()
                    .WithNonce(SecurityHeaders.UsePagePolicy(context)))
                .AllowAnonymous()
                .DisableRateLimiting()
                .WithoutDatabaseCircuit();
        }
        return app;
    }
}
