using Service.Infrastructure.Observability;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using Microsoft.FeatureManagement.FeatureFilters;
using Service.Infrastructure.Settings;

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
        // Wraps the endpoint's final request delegate rather than adding an endpoint filter: a filter switches the
        // handler to the framework's generic, allocating invocation path, which costs more than the check itself.
        builder.Finally(endpoint =>
        {
            var next = endpoint.RequestDelegate ?? throw new InvalidOperationException($"{endpoint.DisplayName} has no request delegate to gate");
            // A singleton: resolved once when the endpoint is built, not on every request.
            var features = endpoint.ApplicationServices.GetRequiredService<IFeatureManager>();
            endpoint.RequestDelegate = context =>
            {
                var enabled = features.IsEnabledAsync(flag.Name);
                if (!enabled.IsCompletedSuccessfully) return AwaitThenAsync(enabled, context, next, flag);
                ServiceDiagnostics.FlagEvaluated(flag.Name, enabled.Result);
                return enabled.Result ? next(context) : RejectAsync(context, flag);
            };
        });
        return builder;
    }

    private static async Task AwaitThenAsync(Task<bool> enabled, HttpContext context, RequestDelegate next, FeatureFlag flag)
    {
        var result = await enabled;
        ServiceDiagnostics.FlagEvaluated(flag.Name, result);
        if (result) await next(context);
        else await RejectAsync(context, flag);
    }

    private static Task RejectAsync(HttpContext context, FeatureFlag flag)
    {
        if (flag.Kind == FeatureKind.Release) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found").ExecuteAsync(context);

        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
        return TypedResults.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Temporarily disabled",
            detail: $"{flag.Description} is temporarily disabled by the operators. Try again later.",
            extensions: new Dictionary<string, object?> { ["feature"] = flag.Name }).ExecuteAsync(context);
    }

    public static IServiceCollection AddFeatureFlags(this IServiceCollection services)
    {
        services.AddValidatedOptions<FeatureFlagOptions>(FeatureFlagOptions.Section);
        services.AddSingleton<IValidateOptions<FeatureFlagOptions>, FeatureFlagOptionsValidator>();
        services.AddSingleton<FeatureFlagSnapshot>();
        services.AddSingleton<FeatureFlagStore>();
        services.AddSingleton<FeatureFlagNotifier>();
        services.AddSingleton<FeatureFlagSync>();
        services.AddHostedService(sp => sp.GetRequiredService<FeatureFlagSync>());
        // Registered before AddFeatureManagement, which only adds its configuration-based provider when none exists.
        services.AddSingleton<IFeatureDefinitionProvider, SnapshotFeatureDefinitionProvider>();
        services.AddFeatureManagement().WithTargeting<RequestTargetingContext>();
        // User and organization ids are GUIDs: their letter case must not decide who is targeted.
        services.Configure<TargetingEvaluationOptions>(o => o.IgnoreCase = true);
        return services;
    }
}
