using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Security;

namespace Service.Features.Admin;

public sealed record SetFeatureFlagRequest(
    [property: Required] bool? Enabled,
    [property: Required] string? Reason,
    FeatureTargeting? Targeting);

/// <param name="Announced">Whether the change went out on Redis (every instance within a second); if not, instances follow within <paramref name="PollIntervalSeconds"/>.</param>
public sealed record SetFeatureFlagResponse(FeatureFlagResponse Flag, bool Announced, int PollIntervalSeconds);

/// <summary>Turns a flag on or off for every instance, audited with the operator and the reason.</summary>
public static class SetFeatureFlag
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPut("/features/{name}", Handle)
            .WithName("SetFeatureFlag")
            .WithSummary("Turn a feature flag or kill switch on or off")
            .ProducesProblem(StatusCodes.Status404NotFound);

    public static async Task<Results<Ok<SetFeatureFlagResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        string name, SetFeatureFlagRequest request, ClaimsPrincipal user, FeatureFlagStore store, FeatureFlagNotifier notifier,
        FeatureFlagSync sync, IOptionsMonitor<FeatureFlagOptions> options, CancellationToken cancellationToken)
    {
        var flag = FeatureFlagCatalog.Find(name);
        if (flag is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such feature flag",
                detail: $"Flags: {string.Join(", ", FeatureFlagCatalog.All.Select(f => f.Name))}.");
        }
        var problems = FeatureFlagChange.Validate(flag, request.Reason, request.Targeting);
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems);

        var email = user.FindFirstValue(PrincipalClaims.Email);
        var actor = new FeatureFlagActor("user", user.RequiredUserId().ToString(), email ?? user.RequiredUserId().ToString());
        var (_, current) = await store.SetAsync(new FeatureFlagChange(flag, request.Enabled!.Value, request.Targeting, request.Reason!), actor, cancellationToken);

        // Committed: from here the request must not fail. This instance obeys at once; the others on the announcement.
        var announced = await notifier.PublishAsync(flag.Name, CancellationToken.None);
        await sync.TryReloadAsync(CancellationToken.None);

        var forced = options.CurrentValue.ForcedValues();
        var state = FeatureFlagState.Resolve(flag, current, forced.TryGetValue(flag.Name, out var value) ? value : null);
        return TypedResults.Ok(new SetFeatureFlagResponse(FeatureFlagResponse.From(state), announced, options.CurrentValue.PollIntervalSeconds));
    }
}
