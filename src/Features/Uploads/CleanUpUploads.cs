using System.Net;
using Amazon.S3.Model;
using Amazon.S3;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Jobs;
using Service.Infrastructure.Storage;

namespace Service.Features.Uploads;

/// <summary>
/// Every Uploads:CleanupIntervalSeconds, on one instance at a time (a PostgreSQL advisory lock): deletes the objects
/// of direct uploads that were never completed (or were deleted or refused while their URL could still write),
/// and aborts multipart uploads older than a day that a crashed instance left behind.
/// </summary>
public sealed class CleanUpUploads(IServiceProvider services, TimeProvider time, ILogger<CleanUpUploads> logger)
    : PeriodicJob(services, time, logger)
{
    // A PUT that started just before its URL expired may still be writing; its object is removed after this.
    public static readonly TimeSpan UploadGrace = TimeSpan.FromHours(1);
    public static readonly TimeSpan StaleMultipartAge = TimeSpan.FromDays(1);
    private const int BatchSize = 100;

    private bool _listingUnsupportedLogged;

    protected override string Name => "uploads.cleanup";
    protected override string Title => "Upload cleanup";

    // Resolved when used: hosted services are built before the startup guard has checked the settings.
    private IAmazonS3 S3 => Services.GetRequiredService<IAmazonS3>();
    private StorageCalls Calls => Services.GetRequiredService<StorageCalls>();
    private string Bucket => Services.GetRequiredService<IOptions<StorageOptions>>().Value.Bucket;

    protected override TimeSpan ReadInterval() =>
        TimeSpan.FromSeconds(Services.GetRequiredService<IOptions<UploadOptions>>().Value.CleanupIntervalSeconds);

    protected override bool IsUnavailable(Exception e, CancellationToken stoppingToken) => e is NpgsqlException || e.IsStorageFailure(stoppingToken);

    protected override async Task RunLockedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var removed = await RemoveUnfinishedAsync(connection, cancellationToken);
        var aborted = await AbortStaleMultipartUploadsAsync(cancellationToken);
        if (removed + aborted > 0)
        {
            Logger.LogInformation("Upload cleanup removed {Removed} unfinished direct uploads and aborted {Aborted} stale multipart uploads", removed, aborted);
        }
    }

    private async Task<int> RemoveUnfinishedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var removed = 0;
        while (true)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // SKIP LOCKED: a row being completed right now is left for the next round.
            var rows = (await connection.QueryAsync<(Guid Id, string StorageKey)>(new CommandDefinition("""
                SELECT id, storage_key FROM uploads
                WHERE expires_at < now() - @grace AND status <> 'ready'
                ORDER BY expires_at LIMIT @BatchSize
                FOR UPDATE SKIP LOCKED
                """, new { grace = UploadGrace, BatchSize }, transaction, cancellationToken: cancellationToken))).ToList();
            if (rows.Count == 0) return removed;

            var settled = new List<Guid>();
            Exception? failure = null;
            foreach (var (id, key) in rows)
            {
                try
                {
                    await Calls.ExecuteAsync(token => S3.DeleteObjectAsync(Bucket, key, token), cancellationToken);
                    settled.Add(id);
                }
                catch (Exception e) when (e.IsStorageFailure(cancellationToken))
                {
                    failure = e;
                    break;
                }
            }
            await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE uploads SET status = 'deleted', deleted_at = coalesce(deleted_at, now()), expires_at = NULL
                WHERE id = ANY(@settled)
                """, new { settled }, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            removed += settled.Count;
            if (failure is not null) throw failure; // what was settled is recorded; the rest waits for the next round
            if (rows.Count < BatchSize) return removed;
        }
    }

    private async Task<int> AbortStaleMultipartUploadsAsync(CancellationToken cancellationToken)
    {
        var bucket = Bucket;
        var cutoff = Time.GetUtcNow().UtcDateTime - StaleMultipartAge;
        var aborted = 0;
        string? keyMarker = null, uploadIdMarker = null;
        try
        {
            while (true)
            {
                var page = await Calls.ExecuteAsync(token => S3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest
                {
                    BucketName = bucket, Prefix = "orgs/", KeyMarker = keyMarker, UploadIdMarker = uploadIdMarker,
                }, token), cancellationToken);
                foreach (var upload in page.MultipartUploads ?? [])
                {
                    if (upload.Initiated is not { } initiated || initiated.ToUniversalTime() >= cutoff) continue;
                    try
                    {
                        await Calls.ExecuteAsync(token => S3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
                        {
                            BucketName = bucket, Key = upload.Key, UploadId = upload.UploadId,
                        }, token), cancellationToken);
                        aborted++;
                    }
                    catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
                    {
                        // completed or aborted since it was listed
                    }
                }
                if (page.IsTruncated != true) return aborted;
                (keyMarker, uploadIdMarker) = (page.NextKeyMarker, page.NextUploadIdMarker);
            }
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotImplemented)
        {
            if (!_listingUnsupportedLogged)
            {
                _listingUnsupportedLogged = true;
                Logger.LogInformation("The storage server cannot list multipart uploads; stale ones are not aborted by the service " +
                    "(on AWS S3, a lifecycle rule with AbortIncompleteMultipartUpload does it too)");
            }
            return aborted;
        }
    }
}
