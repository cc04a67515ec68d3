using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Amazon.S3;
using Amazon.S3.Model;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;
using Service.Infrastructure.Storage;

namespace Service.Features.Uploads;

public sealed record PresignUploadRequest(
    [property: Required, StringLength(1024, MinimumLength = 1)] string FileName,
    [property: Required, StringLength(255, MinimumLength = 1)] string ContentType,
    [property: Required, Range(1, long.MaxValue)] long? SizeBytes);

/// <param name="Method">Always PUT: one request to <paramref name="Url"/> with the file as the body.</param>
/// <param name="Headers">Send exactly these (names in lower case, as HTTP/2 writes them); they are part of the signature.
/// Browsers set content-length themselves.</param>
/// <param name="CompleteUrl">POST here once the PUT succeeded; the upload is ready only then.</param>
public sealed record PresignedUploadResponse(UploadResponse Upload, string Method, string Url, IReadOnlyDictionary<string, string> Headers,
    DateTimeOffset ExpiresAt, string CompleteUrl);

/// <summary>
/// Announces a direct-from-browser upload: records it as pending and answers a presigned PUT bound to the key,
/// content type and size. A PUT rather than a POST policy because every S3-compatible server honours it; the
/// completion checks what arrived either way.
/// </summary>
public static class PresignUpload
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/presign", Handle)
            .WithName("PresignUpload")
            .WithSummary("Start a direct upload from the browser (presigned PUT)")
            .RequireAuthorization(AuthPolicies.OrgIngest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

    public static async Task<Results<Created<PresignedUploadResponse>, ProblemHttpResult>> Handle(
        Guid orgId, PresignUploadRequest request, ClaimsPrincipal user, NpgsqlDataSource dataSource, IAmazonS3 s3,
        IOptions<StorageOptions> storage, IOptions<UploadOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var size = request.SizeBytes!.Value;
        if (size > options.Value.MaxSizeBytes)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "File too large",
                detail: $"Files may be at most {options.Value.MaxSizeBytes} bytes.");
        }
        var fileName = UploadFileName.Sanitize(request.FileName);
        var contentType = UploadContent.Normalize(request.ContentType);
        if (UploadContent.CheckDeclared(contentType, fileName, SettingLists.Split(options.Value.AllowedContentTypes)) is { } reason)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "File type not accepted", detail: reason);
        }

        var id = Guid.CreateVersion7();
        var key = $"orgs/{orgId}/uploads/{id}/{fileName}";
        var (uploaderType, uploaderId) = user.Caller();
        var expiresAt = time.GetUtcNow().AddSeconds(options.Value.PresignedUrlSeconds);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<UploadRow>(new CommandDefinition($"""
            INSERT INTO uploads (id, org_id, uploader_type, uploader_id, file_name, content_type, size_bytes, storage_key, status, transfer, expires_at)
            VALUES (@id, @orgId, @uploaderType, @uploaderId, @fileName, @contentType, @size, @key, 'pending', 'direct', @expiresAt)
            RETURNING {UploadRow.Columns}
            """,
            new { id, orgId, uploaderType, uploaderId, fileName, contentType, size, key, expiresAt },
            cancellationToken: cancellationToken));

        // The URL expires with the row; signing is local computation (no request to S3).
        var presign = new GetPreSignedUrlRequest
        {
            BucketName = storage.Value.Bucket,
            Key = key,
            Verb = HttpVerb.PUT,
            Expires = expiresAt.UtcDateTime,
            ContentType = contentType,
            Protocol = storage.Value.PresignedUrlProtocol,
        };
        presign.Headers.ContentLength = size;
        var url = await s3.GetPreSignedURLAsync(presign);

        var location = $"/api/v1/orgs/{orgId}/uploads/{id}";
        return TypedResults.Created(location, new PresignedUploadResponse(row.ToResponse(), "PUT", url,
            new Dictionary<string, string> { ["content-type"] = contentType, ["content-length"] = size.ToString() },
            expiresAt, $"{location}/complete"));
    }
}
