using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.FeatureFlags;

public sealed class FeatureFlagOptions
{
    public const string Section = "FeatureFlags";

    /// <summary>How often each instance re-reads the flags table: the staleness bound when pub/sub messages are lost.</summary>
    [Range(1, 300, ErrorMessage = "FeatureFlags:PollIntervalSeconds (env FeatureFlags__PollIntervalSeconds): must be from 1 to 300. Fix: e.g. 5.")]
    public int PollIntervalSeconds { get; set; } = 5;

    /// <summary>Redis pub/sub channel announcing flag changes; deployments sharing one Redis need different channels.</summary>
    [Required(ErrorMessage = "FeatureFlags:Channel (env FeatureFlags__Channel): is empty. Fix: e.g. feature-flags:changed.")]
    public string Channel { get; set; } = "feature-flags:changed";

    /// <summary>Values forced from configuration (name → true/false). They win over the database.</summary>
    public Dictionary<string, string> Overrides { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The forced value of each catalogue flag that has a valid override.</summary>
    public IReadOnlyDictionary<string, bool> ForcedValues() =>
        Overrides
            .Select(o => (Flag: FeatureFlagCatalog.Find(o.Key), Parsed: bool.TryParse(o.Value?.Trim(), out var value), Value: value))
            .Where(o => o.Flag is not null && o.Parsed)
            .ToDictionary(o => o.Flag!.Name, o => o.Value);
}

/// <summary>An override that names no flag or is not true/false would silently do nothing: refuse to start instead.</summary>
public sealed class FeatureFlagOptionsValidator : IValidateOptions<FeatureFlagOptions>
{
    public ValidateOptionsResult Validate(string? name, FeatureFlagOptions options)
    {
        var failures = new List<string>();
        foreach (var (flag, value) in options.Overrides)
        {
            var setting = FlatSettingNames.Describe($"{FeatureFlagOptions.Section}:Overrides:{flag}");
            if (FeatureFlagCatalog.Find(flag) is null)
            {
                failures.Add(new StartupProblem(setting, "names no feature flag.",
                    $"use one of {string.Join(", ", FeatureFlagCatalog.All.Select(f => f.Name))}, or remove the setting.").ToString());
            }
            else if (!bool.TryParse(value?.Trim(), out _))
            {
                failures.Add(new StartupProblem(setting, "must be true or false.",
                    "set true to force the flag on, false to force it off, or remove the setting to let the database decide.").ToString());
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
