using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Features.Uploads;

public sealed class UploadOptions
{
    public const string Section = "Uploads";
    public const long MinPartSizeBytes = 5 * 1024 * 1024; // S3's minimum for every part but the last

    [Range(1, 5L * 1024 * 1024 * 1024 * 1024, ErrorMessage = "Uploads:MaxSizeBytes (env Uploads__MaxSizeBytes): must be from 1 byte to 5 TiB. Fix: e.g. 104857600 (100 MiB).")]
    public long MaxSizeBytes { get; set; } = 100 * 1024 * 1024;

    /// <summary>Bytes sent to S3 per part. One upload holds two parts in memory (one read while the other is sent).</summary>
    [Range(MinPartSizeBytes, 512 * 1024 * 1024, ErrorMessage = "Uploads:PartSizeBytes (env Uploads__PartSizeBytes): must be from 5 MiB (S3's minimum) to 512 MiB. Fix: e.g. 8388608 (8 MiB).")]
    public long PartSizeBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>How long a presigned upload URL is valid (S3 checks it when the upload starts).</summary>
    [Range(60, 900, ErrorMessage = "Uploads:PresignedUrlSeconds (env Uploads__PresignedUrlSeconds): must be from 60 to 900 (15 minutes). Fix: e.g. 900.")]
    public int PresignedUrlSeconds { get; set; } = 900;

    /// <summary>How often each instance looks for expired direct uploads and stale multipart uploads (one instance at a time works).</summary>
    [Range(1, 86400, ErrorMessage = "Uploads:CleanupIntervalSeconds (env Uploads__CleanupIntervalSeconds): must be from 1 to 86400. Fix: e.g. 300.")]
    public int CleanupIntervalSeconds { get; set; } = 300;

    /// <summary>Comma-separated MIME types accepted; each is also checked against the file's extension and leading bytes.</summary>
    public string AllowedContentTypes { get; set; } = string.Join(",", UploadContent.KnownTypes);
}

public sealed class UploadOptionsValidator : IValidateOptions<UploadOptions>
{
    public ValidateOptionsResult Validate(string? name, UploadOptions options)
    {
        var unknown = SettingLists.Split(options.AllowedContentTypes).Where(t => !UploadContent.KnownTypes.Contains(t, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unknown.Count == 0 && SettingLists.Split(options.AllowedContentTypes).Length > 0) return ValidateOptionsResult.Success;
        return ValidateOptionsResult.Fail(new StartupProblem(FlatSettingNames.Describe("Uploads:AllowedContentTypes"),
            unknown.Count > 0 ? $"names types whose content cannot be verified: {string.Join(", ", unknown)}." : "is empty.",
            $"choose from {string.Join(", ", UploadContent.KnownTypes)}.").ToString());
    }
}
