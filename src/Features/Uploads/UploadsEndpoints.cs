using Microsoft.Extensions.Options;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;

namespace Service.Features.Uploads;

/// <summary>Files of an organization in S3: members and agent keys with ingest upload; members read and delete.</summary>
public static class UploadsEndpoints
{
    public static IServiceCollection AddUploads(this IServiceCollection services)
    {
        services.AddValidatedOptions<UploadOptions>(UploadOptions.Section);
        services.AddSingleton<IValidateOptions<UploadOptions>, UploadOptionsValidator>();
        services.AddSingleton<StorageWriter>();
        services.AddHostedService<CleanUpUploads>();
        return services;
    }

    public static IEndpointRouteBuilder MapUploads(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/uploads")
            .WithTags("Uploads")
            .RequireRateLimit(RateLimitPolicies.Uploads)
            .RequireFeature(FeatureFlagCatalog.Uploads);
        UploadFile.Map(group);
        PresignUpload.Map(group);
        CompleteUpload.Map(group);
        ListUploads.Map(group);
        GetUpload.Map(group);
        DeleteUpload.Map(group);
        return app;
    }
}

/// <param name="Sha256">Hex SHA-256 computed by the service while streaming; null for direct uploads, which it never reads whole.</param>
/// <param name="Status">pending (direct upload not completed yet), ready, deleted.</param>
/// <param name="Transfer">api (streamed through the service) or direct (PUT to a presigned URL, then completed).</param>
public sealed record UploadResponse(Guid Id, string FileName, string ContentType, long SizeBytes, string? Sha256, string Status,
    string Transfer, string UploaderType, Guid UploaderId, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt);

/// <summary>An uploads row as the slices read it.</summary>
public sealed record UploadRow(Guid Id, string FileName, string ContentType, long SizeBytes, string? Sha256, string Status,
    string Transfer, string UploaderType, Guid UploaderId, DateTime CreatedAt, DateTime? CompletedAt, string StorageKey)
{
    public const string Columns = "id, file_name AS FileName, content_type AS ContentType, size_bytes AS SizeBytes, sha256, status, transfer, " +
        "uploader_type AS UploaderType, uploader_id AS UploaderId, created_at AS CreatedAt, completed_at AS CompletedAt, storage_key AS StorageKey";

    public UploadResponse ToResponse() => new(Id, FileName, ContentType, SizeBytes, Sha256, Status, Transfer, UploaderType, UploaderId,
        DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc), CompletedAt is { } at ? DateTime.SpecifyKind(at, DateTimeKind.Utc) : null);
}
