using System.Globalization;
using System.Text.Json.Serialization;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>
/// Who a release flag is on for, in FeatureManagement's targeting terms: listed users, organizations (groups) with
/// a rollout percentage each, a percentage of everyone else, and exclusions that win over all of these.
/// </summary>
/// <remarks>Unknown members are refused: a misspelt "defaultRolloutPercent" must not silently mean 0 %.</remarks>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record FeatureTargeting(
    IReadOnlyList<string>? Users,
    IReadOnlyList<FeatureTargetingGroup>? Groups,
    double DefaultRolloutPercentage,
    FeatureTargetingExclusion? Exclusion)
{
    public const int MaxEntries = 1000;

    /// <summary>Problems keyed by field path (<c>targeting.groups[0].rolloutPercentage</c>); empty when valid.</summary>
    public Dictionary<string, string[]> Validate(string prefix)
    {
        var errors = new Dictionary<string, string[]>();
        void Check(bool ok, string field, string message)
        {
            if (!ok) errors[$"{prefix}.{field}"] = [message];
        }
        static bool IsPercentage(double value) => value is >= 0 and <= 100;

        Check(IsPercentage(DefaultRolloutPercentage), "defaultRolloutPercentage", "Must be from 0 to 100.");
        CheckNames(Users, "users");
        Check((Groups?.Count ?? 0) <= MaxEntries, "groups", $"At most {MaxEntries} groups.");
        for (var i = 0; i < (Groups?.Count ?? 0); i++)
        {
            Check(!string.IsNullOrWhiteSpace(Groups![i]?.Name), $"groups[{i}].name", "Must be an organization id.");
            Check(Groups[i] is null || IsPercentage(Groups[i].RolloutPercentage), $"groups[{i}].rolloutPercentage", "Must be from 0 to 100.");
        }
        CheckNames(Exclusion?.Users, "exclusion.users");
        CheckNames(Exclusion?.Groups, "exclusion.groups");
        return errors;

        void CheckNames(IReadOnlyList<string>? names, string field)
        {
            Check((names?.Count ?? 0) <= MaxEntries, field, $"At most {MaxEntries} entries.");
            for (var i = 0; i < (names?.Count ?? 0); i++) Check(!string.IsNullOrWhiteSpace(names![i]), $"{field}[{i}]", "Must not be empty.");
        }
    }

    /// <summary>The parameters of FeatureManagement's targeting filter ("Audience" section) for this audience.</summary>
    public IConfiguration ToFilterParameters()
    {
        var values = new Dictionary<string, string?>
        {
            ["Audience:DefaultRolloutPercentage"] = DefaultRolloutPercentage.ToString(CultureInfo.InvariantCulture),
        };
        AddList("Audience:Users", Users);
        for (var i = 0; i < (Groups?.Count ?? 0); i++)
        {
            values[$"Audience:Groups:{i}:Name"] = Groups![i].Name;
            values[$"Audience:Groups:{i}:RolloutPercentage"] = Groups[i].RolloutPercentage.ToString(CultureInfo.InvariantCulture);
        }
        AddList("Audience:Exclusion:Users", Exclusion?.Users);
        AddList("Audience:Exclusion:Groups", Exclusion?.Groups);
        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();

        void AddList(string key, IReadOnlyList<string>? items)
        {
            for (var i = 0; i < (items?.Count ?? 0); i++) values[$"{key}:{i}"] = items![i];
        }
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record FeatureTargetingGroup(string Name, double RolloutPercentage);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record FeatureTargetingExclusion(IReadOnlyList<string>? Users, IReadOnlyList<string>? Groups);
