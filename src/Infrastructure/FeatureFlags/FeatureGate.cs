using Microsoft.FeatureManagement;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>
/// Gates endpoints on a catalogue flag. FeatureManagement's own WithFeatureGate answers a bare 404; a disabled kill
/// switch here answers 503 problem details naming the feature, with Retry-After, and a disabled release flag 404.
/// </summary>
public static class FeatureGate
{
    public const int RetryAfterSeconds = 30;

    public static TBuilder RequireFeature<TBuilder>(this TBuilder builder, FeatureFlag flag) where TBuilder : IEndpointConventionBuilder
    {
        builder.AddEndpointFilter(async (context, next) =>
        {
            var features = context.HttpContext.RequestServices.GetRequiredService<IFeatureManager>();
            if (await features.IsEnabledAsync(flag.Name)) return await next(context);
            if (flag.Kind == FeatureKind.Release) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found");

            context.HttpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
            return TypedResults.Problem(
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Temporarily disabled",
                detail: $"{flag.Description} is temporarily disabled by the operators. Try again later.",
                extensions: new Dictionary<string, object?> { ["feature"] = flag.Name });
        });
        return builder;
    }

    public static IServiceCollection AddFeatureFlags(this IServiceCollection services)
    {
        services.AddSingleton<CatalogFeatureDefinitionProvider>();
        services.AddSingleton<IFeatureDefinitionProvider>(sp => sp.GetRequiredService<CatalogFeatureDefinitionProvider>());
        services.AddFeatureManagement();
        return services;
    }
}
