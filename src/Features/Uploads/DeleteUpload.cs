using System.Security.Claims;
using Amazon.S3;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;
using Service.Infrastructure.Storage;

namespace Service.Features.Uploads;

/// <summary>Marks the upload deleted and deletes its object. Idempotent: deleting again answers 204 too.</summary>
public static class DeleteUpload
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapDelete("/{uploadId:guid}", Handle)
            .WithName("DeleteUpload")
            .WithSummary("Delete an upload and its stored file")
            .RequireOrgRole(OrgRole.Member)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    public static async Task<Results<NoContent, ProblemHttpResult>> Handle(
        Guid orgId, Guid uploadId, ClaimsPrincipal user, HttpResponse response, NpgsqlDataSource dataSource, IAmazonS3 s3, StorageCalls calls,
        IOptions<StorageOptions> storage, AuditLog audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var key = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT storage_key FROM uploads WHERE id = @uploadId AND org_id = @orgId", new { uploadId, orgId }, cancellationToken: cancellationToken));
        if (key is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such upload");

        // The object first: a row marked deleted must not leave an object behind; S3's delete is itself idempotent.
        try
        {
            await calls.ExecuteAsync(token => s3.DeleteObjectAsync(storage.Value.Bucket, key, token), cancellationToken);
        }
        catch (Exception e) when (e.IsStorageFailure(cancellationToken))
        {
            return StorageFailure.Unavailable(response, calls.RetryAfter(e), "The file could not be deleted. Try again shortly.");
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var marked = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE uploads SET status = 'deleted', deleted_at = now() WHERE id = @uploadId AND status <> 'deleted'",
            new { uploadId }, transaction, cancellationToken: cancellationToken));
        if (marked > 0)
        {
            var (actorType, actorId) = user.Actor();
            await audit.WriteAsync(connection, transaction, new AuditEntry(actorType, actorId, orgId, "upload.deleted", "upload", uploadId.ToString()), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
