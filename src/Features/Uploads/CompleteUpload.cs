using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;
using Service.Infrastructure.Storage;

namespace Service.Features.Uploads;

/// <summary>
/// Finishes a direct upload: S3 must hold an object of the announced size and type whose leading bytes match the
/// type; only then is the row ready. What does not match is deleted (422); a file not uploaded yet is 409, and
/// completing a ready upload again answers it as it is.
/// </summary>
public static class CompleteUpload
{
    private const string NotChecked = "The upload could not be checked; it stays pending. Try again shortly.";

    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{uploadId:guid}/complete", Handle)
            .WithName("CompleteUpload")
            .WithSummary("Complete a direct upload after the browser's PUT")
            .RequireAuthorization(AuthPolicies.OrgIngest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    public static async Task<Results<Ok<UploadResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid uploadId, HttpResponse response, NpgsqlDataSource dataSource, IAmazonS3 s3, StorageCalls calls,
        IOptions<StorageOptions> storage, IOptions<UploadOptions> options, Notifier notifier, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Locked until the answer: the cleanup job skips this row meanwhile, and a concurrent complete waits.
        var row = await connection.QuerySingleOrDefaultAsync<UploadRow>(new CommandDefinition(
            $"SELECT {UploadRow.Columns} FROM uploads WHERE id = @uploadId AND org_id = @orgId AND status <> 'deleted' FOR UPDATE",
            new { uploadId, orgId }, transaction, cancellationToken: cancellationToken));
        if (row is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such upload");
        if (row.Status == "ready") return TypedResults.Ok(row.ToResponse());

        var bucket = storage.Value.Bucket;
        string? mismatch;
        try
        {
            mismatch = await FindMismatchAsync(row, bucket, s3, calls, options.Value, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "File not uploaded yet",
                detail: "PUT the file to the presigned URL first, then complete the upload.");
        }
        catch (Exception e) when (e.IsStorageFailure(cancellationToken))
        {
            return StorageFailure.Unavailable(response, calls.RetryAfter(e), NotChecked);
        }

        if (mismatch is not null)
        {
            try
            {
                await calls.ExecuteAsync(token => s3.DeleteObjectAsync(bucket, row.StorageKey, token), cancellationToken);
            }
            catch (Exception e) when (e.IsStorageFailure(cancellationToken))
            {
                return StorageFailure.Unavailable(response, calls.RetryAfter(e), NotChecked);
            }
            // expires_at stays: the presigned URL may still write the object again until then, and the cleanup job removes it.
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE uploads SET status = 'deleted', deleted_at = now() WHERE id = @uploadId",
                new { uploadId }, transaction, cancellationToken: cancellationToken));
            var notice = await notifier.NotifyAsync(connection, transaction, await ResponsibleUserAsync(connection, transaction, orgId, row, cancellationToken), orgId,
                new NotificationDraft("upload.refused", $"Upload of {row.FileName} was refused", $"{mismatch} The file was deleted; upload it again.",
                    new { uploadId, fileName = row.FileName, reason = mismatch }), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await notifier.PublishAsync(notice);
            loggers.CreateLogger(typeof(CompleteUpload)).LogInformation("Direct upload {UploadId} refused on completion: {Reason}", uploadId, mismatch);
            return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Uploaded file does not match",
                detail: $"{mismatch} The file was deleted; announce the upload again.");
        }

        var ready = await connection.QuerySingleAsync<UploadRow>(new CommandDefinition($"""
            UPDATE uploads SET status = 'ready', completed_at = now(), expires_at = NULL WHERE id = @uploadId
            RETURNING {UploadRow.Columns}
            """, new { uploadId }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(ready.ToResponse());
    }

    /// <summary>Who hears of a refused upload: the user who uploaded, or for an agent key the member who created the key.</summary>
    private static async Task<Guid[]> ResponsibleUserAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, UploadRow row, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<Guid>(new CommandDefinition("""
            SELECT m.user_id FROM memberships m
            WHERE m.org_id = @orgId AND m.user_id = CASE WHEN @UploaderType = 'user' THEN @UploaderId ELSE (SELECT created_by FROM api_keys WHERE id = @UploaderId) END
            """, new { orgId, row.UploaderType, row.UploaderId }, transaction, cancellationToken: cancellationToken))).ToArray();

    /// <summary>Null when the object is what was announced, else why not. Throws NotFound when there is no object.</summary>
    private static async Task<string?> FindMismatchAsync(UploadRow row, string bucket, IAmazonS3 s3, StorageCalls calls, UploadOptions options,
        CancellationToken cancellationToken)
    {
        var head = await calls.ExecuteAsync(token => s3.GetObjectMetadataAsync(bucket, row.StorageKey, token), cancellationToken);
        if (head.ContentLength != row.SizeBytes)
        {
            return $"The upload announced {row.SizeBytes} bytes but {head.ContentLength} arrived.";
        }
        var storedType = UploadContent.Normalize(head.Headers.ContentType ?? "");
        if (storedType != row.ContentType)
        {
            return $"The upload announced {row.ContentType} but was stored as '{storedType}'.";
        }

        var leading = await calls.ExecuteAsync(async token =>
        {
            using var sample = await s3.GetObjectAsync(new GetObjectRequest
            {
                BucketName = bucket, Key = row.StorageKey, ByteRange = new ByteRange(0, Math.Min(row.SizeBytes, UploadContent.SniffLength) - 1),
            }, token);
            var buffer = new byte[UploadContent.SniffLength];
            var filled = 0;
            int read;
            while (filled < buffer.Length && (read = await sample.ResponseStream.ReadAsync(buffer.AsMemory(filled), token)) > 0) filled += read;
            return buffer.AsMemory(0, filled);
        }, cancellationToken, "GetObject");
        return UploadContent.Check(row.ContentType, row.FileName, leading, SettingLists.Split(options.AllowedContentTypes));
    }
}
