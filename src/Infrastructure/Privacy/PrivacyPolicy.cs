namespace Service.Infrastructure.Privacy;

/// <summary>An organization's policy compiled for intake and queries: what to drop, how to store a path, which metadata to remove.</summary>
public sealed class PrivacyPolicy(PrivacySettings settings, int version, byte[]? pathKey)
{
    private readonly ExclusionGlobs _exclusions = new(settings.ExcludeGlobs);
    private readonly PathRedaction _paths = new(settings.PathMode, settings.HashFileNames, pathKey);
    private readonly MetadataScrubbing _metadata = new(settings.DropMetadataKeys);

    public static readonly PrivacyPolicy Default = new(PrivacySettings.Default, 0, null);

    public PrivacySettings Settings => settings;

    /// <summary>0 while the organization has never written a policy.</summary>
    public int Version => version;

    /// <summary>Whether an event must be dropped before anything of it is stored: an excluded path, or older than the organization keeps events.</summary>
    public bool Excludes(string path, DateTime occurredAt, DateTime now) =>
        settings.RetentionDays is { } days && occurredAt < now.AddDays(-days) || _exclusions.Excludes(path);

    public string StoredPath(string path) => _paths.Redact(path);

    public string? StoredMetadata(string? json) => json is null ? null : _metadata.Scrub(json);
}
