using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>
/// This instance's view of every flag, swapped whole on each reload. Evaluation reads only this: no database or
/// Redis call on the request path, and the last loaded values survive both being unreachable.
/// </summary>
public sealed class FeatureFlagSnapshot
{
    public const string TargetingFilterName = "Microsoft.Targeting";

    private static readonly Task<FeatureDefinition?> Undeclared = Task.FromResult<FeatureDefinition?>(null);
    private readonly Lock _gate = new();
    private View _view;

    public FeatureFlagSnapshot(IOptionsMonitor<FeatureFlagOptions> options)
    {
        // Until the first load: the safe defaults, with whatever configuration forces.
        _view = Build(null, ForcedOrNone(options), null);
        options.OnChange(_ => { lock (_gate) _view = Build(_view.Rows, ForcedOrNone(options), _view.LoadedAt); });
    }

    private sealed record View(
        IReadOnlyList<StoredFeatureFlag>? Rows,
        IReadOnlyDictionary<string, bool> Forced,
        DateTimeOffset? LoadedAt,
        IReadOnlyList<FeatureFlagState> States,
        FrozenDictionary<string, Task<FeatureDefinition?>> Definitions);

    public IReadOnlyList<FeatureFlagState> States => _view.States;

    /// <summary>When the database was last read successfully; null while only defaults and overrides are known.</summary>
    public DateTimeOffset? LoadedAt => _view.LoadedAt;

    /// <summary>The definition FeatureManagement evaluates; the same completed task every time until the next reload.</summary>
    public Task<FeatureDefinition?> GetDefinition(string name) => _view.Definitions.GetValueOrDefault(name, Undeclared);

    public void Replace(IReadOnlyList<StoredFeatureFlag> rows, DateTimeOffset loadedAt)
    {
        lock (_gate) _view = Build(rows, _view.Forced, loadedAt);
    }

    private static IReadOnlyDictionary<string, bool> ForcedOrNone(IOptionsMonitor<FeatureFlagOptions> options)
    {
        try
        {
            return options.CurrentValue.ForcedValues();
        }
        catch (OptionsValidationException)
        {
            return new Dictionary<string, bool>(); // invalid overrides: the startup guard refuses to start
        }
    }

    private static View Build(IReadOnlyList<StoredFeatureFlag>? rows, IReadOnlyDictionary<string, bool> forced, DateTimeOffset? loadedAt)
    {
        var states = FeatureFlagState.ResolveAll(rows ?? [], forced);
        var definitions = states.ToFrozenDictionary(s => s.Flag.Name, s => Task.FromResult<FeatureDefinition?>(Define(s)), StringComparer.OrdinalIgnoreCase);
        return new View(rows, forced, loadedAt, states, definitions);
    }

    private static FeatureDefinition Define(FeatureFlagState state) => new()
    {
        Name = state.Flag.Name,
        EnabledFor = !state.Enabled ? []
            : state.Targeting is { } targeting ? [new FeatureFilterConfiguration { Name = TargetingFilterName, Parameters = targeting.ToFilterParameters() }]
            : [new FeatureFilterConfiguration { Name = "AlwaysOn" }],
    };
}

/// <summary>Feeds FeatureManagement from the snapshot. Undeclared flags do not exist.</summary>
public sealed class SnapshotFeatureDefinitionProvider(FeatureFlagSnapshot snapshot) : IFeatureDefinitionProvider
{
    public Task<FeatureDefinition?> GetFeatureDefinitionAsync(string featureName) => snapshot.GetDefinition(featureName);

    public async IAsyncEnumerable<FeatureDefinition> GetAllFeatureDefinitionsAsync()
    {
        foreach (var state in snapshot.States)
        {
            if (await snapshot.GetDefinition(state.Flag.Name) is { } definition) yield return definition;
        }
    }
}
