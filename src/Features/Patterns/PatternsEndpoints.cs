using Service.Infrastructure.FeatureFlags;

namespace Service.Features.Patterns;

/// <summary>
/// What the detector found in an organization's events: viewers read, members ask for a run; agent keys have no
/// access. The detector itself is in Infrastructure/Patterns. The Suggestions kill switch answers 503 here and stops it.
/// </summary>
public static class PatternsEndpoints
{
    public static IEndpointRouteBuilder MapPatterns(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/patterns")
            .WithTags("Patterns")
            .RequireFeature(FeatureFlagCatalog.Suggestions);
        ListPatterns.Map(group);
        DetectPatterns.Map(group);
        GetDetection.Map(group);
        GetPattern.Map(group);
        return app;
    }
}
