using Service.Infrastructure.FeatureFlags;

namespace Service.Features.Suggestions;

/// <summary>
/// Workflows the detector proposes from an organization's patterns: viewers read, members accept, dismiss and
/// snooze; agent keys have no access. The Suggestions kill switch answers 503 here.
/// </summary>
public static class SuggestionsEndpoints
{
    public static IEndpointRouteBuilder MapSuggestions(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/suggestions")
            .WithTags("Suggestions")
            .RequireFeature(FeatureFlagCatalog.Suggestions);
        ListSuggestions.Map(group);
        GetSuggestion.Map(group);
        AcceptSuggestion.Map(group);
        DismissSuggestion.Map(group);
        SnoozeSuggestion.Map(group);
        return app;
    }
}
