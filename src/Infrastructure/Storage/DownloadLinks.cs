using Amazon.S3;
using Amazon.S3.Model;

namespace Service.Infrastructure.Storage;

/// <summary>Presigned GETs that download an upload as an attachment under its own name. Presigning is local computation (no request to S3).</summary>
public static class DownloadLinks
{
    public static Task<string> PresignAsync(IAmazonS3 s3, StorageOptions storage, string storageKey, string fileName, string contentType, DateTimeOffset expires) =>
        s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = storage.Bucket,
            Key = storageKey,
            Verb = HttpVerb.GET,
            Expires = expires.UtcDateTime,
            Protocol = storage.PresignedUrlProtocol,
            ResponseHeaderOverrides = new ResponseHeaderOverrides
            {
                ContentDisposition = $"attachment; filename=\"{AsciiFallback(fileName)}\"; filename*=UTF-8''{Uri.EscapeDataString(fileName)}",
                ContentType = contentType,
            },
        });

    private static string AsciiFallback(string name) => new(name.Select(c => c is >= ' ' and < (char)127 and not '"' and not '\\' ? c : '_').ToArray());
}
