using Amazon.S3;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Security;
using Service.Infrastructure.Storage;

namespace Service.Features.Uploads;

/// <param name="DownloadUrl">A presigned GET, valid for <see cref="GetUpload.DownloadUrlLifetime"/>, that downloads as an attachment.</param>
public sealed record UploadDetailsResponse(UploadResponse Upload, string? DownloadUrl, DateTimeOffset? DownloadUrlExpiresAt);

public static class GetUpload
{
    public static readonly TimeSpan DownloadUrlLifetime = TimeSpan.FromMinutes(5);

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{uploadId:guid}", Handle)
            .WithName("GetUpload")
            .WithSummary("Get an upload with a short-lived download URL")
            .RequireOrgRole(OrgRole.Viewer)
            .ProducesProblem(StatusCodes.Status404NotFound);

    public static async Task<Results<Ok<UploadDetailsResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid uploadId, NpgsqlDataSource dataSource, IAmazonS3 s3, IOptions<StorageOptions> storage, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<UploadRow>(new CommandDefinition(
            $"SELECT {UploadRow.Columns} FROM uploads WHERE id = @uploadId AND org_id = @orgId AND status <> 'deleted'",
            new { uploadId, orgId }, cancellationToken: cancellationToken));
        if (row is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such upload");
        if (row.Status != "ready") return TypedResults.Ok(new UploadDetailsResponse(row.ToResponse(), null, null));

        var expires = time.GetUtcNow() + DownloadUrlLifetime;
        var url = await DownloadLinks.PresignAsync(s3, storage.Value, row.StorageKey, row.FileName, row.ContentType, expires);
        return TypedResults.Ok(new UploadDetailsResponse(row.ToResponse(), url, expires));
    }
}
