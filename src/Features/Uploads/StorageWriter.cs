using System.Buffers;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Storage;

namespace Service.Features.Uploads;

public abstract record WriteOutcome
{
    public sealed record Stored(long SizeBytes, string Sha256) : WriteOutcome;
    public sealed record TooLarge(long LimitBytes) : WriteOutcome;
    public sealed record Refused(string Reason) : WriteOutcome;
}

/// <summary>
/// Streams a request's file to S3 while reading it, SHA-256 computed on the way. Files up to one part go in a
/// single PutObject; larger ones through a multipart upload, reading the next part from the client while the
/// previous one is sent (two part buffers, the most one upload holds). The multipart upload is aborted if the
/// file turns out too large, the client goes away or S3 fails, so no incomplete upload is left behind.
/// </summary>
public sealed class StorageWriter(IAmazonS3 s3, StorageCalls calls, IOptions<StorageOptions> storage, IOptions<UploadOptions> uploads, ILogger<StorageWriter> logger)
{
    public async Task<WriteOutcome> WriteAsync(Stream source, string key, string contentType, Func<ReadOnlyMemory<byte>, string?> checkLeadingBytes, CancellationToken cancellationToken)
    {
        var partSize = (int)uploads.Value.PartSizeBytes;
        var limit = uploads.Value.MaxSizeBytes;
        var bucket = storage.Value.Bucket;
        var current = ArrayPool<byte>.Shared.Rent(partSize);
        byte[]? next = null;
        Task<PartETag>? sending = null;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        string? uploadId = null;
        try
        {
            var filled = await FillAsync(source, current, partSize, cancellationToken);
            long total = filled;
            if (checkLeadingBytes(current.AsMemory(0, Math.Min(filled, UploadContent.SniffLength))) is { } reason) return new WriteOutcome.Refused(reason);
            if (total > limit) return new WriteOutcome.TooLarge(limit);

            if (filled < partSize)
            {
                sha.AppendData(current, 0, filled);
                using var body = new MemoryStream(current, 0, filled, writable: false);
                await calls.ExecuteAsync(token =>
                {
                    body.Position = 0;
                    return s3.PutObjectAsync(new PutObjectRequest
                    {
                        BucketName = bucket, Key = key, InputStream = body, ContentType = contentType,
                        UseChunkEncoding = storage.Value.UseChunkEncoding, AutoCloseStream = false,
                    }, token);
                }, cancellationToken);
                return new WriteOutcome.Stored(total, Convert.ToHexStringLower(sha.GetHashAndReset()));
            }

            uploadId = (await calls.ExecuteAsync(token => s3.InitiateMultipartUploadAsync(
                new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = contentType }, token), cancellationToken)).UploadId;
            next = ArrayPool<byte>.Shared.Rent(partSize);
            var parts = new List<PartETag>();
            while (filled > 0)
            {
                sha.AppendData(current, 0, filled);
                sending = SendPartAsync(bucket, key, uploadId, parts.Count + 1, current, filled, cancellationToken);
                var nextFilled = await FillAsync(source, next, partSize, cancellationToken);
                parts.Add(await sending);
                sending = null;
                (current, next, filled) = (next, current, nextFilled);
                total += filled;
                if (total > limit)
                {
                    await AbortAsync(bucket, key, uploadId);
                    uploadId = null;
                    return new WriteOutcome.TooLarge(limit);
                }
            }
            await calls.ExecuteAsync(token => s3.CompleteMultipartUploadAsync(
                new CompleteMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = uploadId, PartETags = parts }, token), cancellationToken);
            uploadId = null;
            return new WriteOutcome.Stored(total, Convert.ToHexStringLower(sha.GetHashAndReset()));
        }
        finally
        {
            // A part still being sent reads its buffer: it must finish (or fail) before the buffer goes back to the pool.
            if (sending is not null) await Task.WhenAny(sending);
            if (uploadId is not null) await AbortAsync(bucket, key, uploadId);
            ArrayPool<byte>.Shared.Return(current);
            if (next is not null) ArrayPool<byte>.Shared.Return(next);
        }
    }

    private async Task<PartETag> SendPartAsync(string bucket, string key, string uploadId, int number, byte[] buffer, int length, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream(buffer, 0, length, writable: false);
        var part = await calls.ExecuteAsync(token =>
        {
            body.Position = 0;
            return s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = bucket, Key = key, UploadId = uploadId, PartNumber = number, PartSize = length,
                InputStream = body, UseChunkEncoding = storage.Value.UseChunkEncoding,
            }, token);
        }, cancellationToken);
        return new PartETag(number, part.ETag);
    }

    /// <summary>Deletes an object written for an upload that could not be recorded.</summary>
    public async Task DeleteQuietlyAsync(string key)
    {
        try
        {
            await calls.ExecuteAsync(token => s3.DeleteObjectAsync(storage.Value.Bucket, key, token), CancellationToken.None);
        }
        catch (Exception e) when (e.IsStorageFailure(CancellationToken.None))
        {
            logger.LogWarning("Could not delete orphaned object {Key} ({Error}); the cleanup job removes it", key, e.GetType().Name);
        }
    }

    // Not the request's token: the client may be gone, and the incomplete upload must still go (the storage
    // timeout bounds it).
    private async Task AbortAsync(string bucket, string key, string uploadId)
    {
        try
        {
            await calls.ExecuteAsync(token => s3.AbortMultipartUploadAsync(
                new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = uploadId }, token), CancellationToken.None);
        }
        catch (Exception e) when (e.IsStorageFailure(CancellationToken.None))
        {
            logger.LogWarning("Could not abort multipart upload {UploadId} of {Key} ({Error}); the cleanup job aborts it", uploadId, key, e.GetType().Name);
        }
    }

    /// <summary>Reads until the buffer holds <paramref name="count"/> bytes or the stream ends; returns how many it holds.</summary>
    private static async Task<int> FillAsync(Stream source, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < count)
        {
            var read = await source.ReadAsync(buffer.AsMemory(filled, count - filled), cancellationToken);
            if (read == 0) break;
            filled += read;
        }
        return filled;
    }
}
