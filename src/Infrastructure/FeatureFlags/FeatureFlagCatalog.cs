namespace Service.Infrastructure.FeatureFlags;

public enum FeatureKind
{
    /// <summary>Normally on; operators turn it off in an emergency. Off answers 503 with Retry-After.</summary>
    KillSwitch,

    /// <summary>Normally off until released (possibly gradually). Off answers 404: the feature does not exist yet.</summary>
    Release,
}

/// <param name="SafeDefault">The value used when neither configuration nor the database says otherwise.</param>
public sealed record FeatureFlag(string Name, string Description, FeatureKind Kind, bool SafeDefault)
{
    /// <summary>"killSwitch" or "release", as the admin API and CLI show it.</summary>
    public string KindName => Kind == FeatureKind.KillSwitch ? "killSwitch" : "release";
}

/// <summary>Every flag the service knows, in one place. Evaluating an undeclared flag is a bug.</summary>
public static class FeatureFlagCatalog
{
    public static readonly FeatureFlag Registration = new("Registration", "New users can sign up", FeatureKind.KillSwitch, true);
    public static readonly FeatureFlag EventIngest = new("EventIngest", "Agents can push file-usage events", FeatureKind.KillSwitch, true);
    public static readonly FeatureFlag Uploads = new("Uploads", "Files can be uploaded to storage", FeatureKind.KillSwitch, true);
    public static readonly FeatureFlag Workflows = new("Workflows", "Workflows can be edited and run", FeatureKind.KillSwitch, true);
    public static readonly FeatureFlag OutboundWebhooks = new("OutboundWebhooks", "Sending messages to integrations (webhooks, Slack)", FeatureKind.KillSwitch, true);
    public static readonly FeatureFlag LiveStream = new("LiveStream", "Live event streams (SSE) and their tickets", FeatureKind.KillSwitch, true);

    // Released (on by default), and still a release flag: it can be rolled out to chosen organizations, and off hides
    // patterns and suggestions (404) and stops the detector.
    public static readonly FeatureFlag Suggestions = new("Suggestions", "Pattern detection and workflow suggestions", FeatureKind.Release, true);

    public static readonly IReadOnlyList<FeatureFlag> All = [Registration, EventIngest, Uploads, Workflows, OutboundWebhooks, LiveStream, Suggestions];

    public static FeatureFlag? Find(string name) => All.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));
}
