using Service.Infrastructure.FeatureFlags;

namespace Service.Features.Admin;

/// <param name="LoadedAt">When this instance last read the flags table; null if it never could (safe defaults).</param>
public sealed record FeatureFlagListResponse(IReadOnlyList<FeatureFlagResponse> Items, DateTimeOffset? LoadedAt);

/// <summary>Every flag as this instance evaluates it right now, with where each value comes from.</summary>
public static class ListFeatureFlags
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/features", Handle)
            .WithName("ListFeatureFlags")
            .WithSummary("List feature flags and kill switches");

    public static Ok<FeatureFlagListResponse> Handle(FeatureFlagSnapshot snapshot) =>
        TypedResults.Ok(new FeatureFlagListResponse(snapshot.States.Select(FeatureFlagResponse.From).ToList(), snapshot.LoadedAt));
}
