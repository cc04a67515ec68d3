using System.ComponentModel.DataAnnotations;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Storage;

public sealed class StorageOptions
{
    public const string Section = "Storage";

    [Required(ErrorMessage = "S3_BUCKET (Storage:Bucket): is not set. Fix: set S3_BUCKET to the bucket that holds uploads.")]
    public string Bucket { get; set; } = "";

    /// <summary>Endpoint of an S3-compatible server (S3_ENDPOINT); empty means AWS S3 in <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }

    [Required(ErrorMessage = "AWS_REGION (Storage:Region): is not set. Fix: set AWS_REGION, e.g. us-east-1.")]
    public string Region { get; set; } = "us-east-1";

    /// <summary>Static credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); empty uses the SDK's default chain (instance role...).</summary>
    public string? AccessKeyId { get; set; }

    public string? SecretAccessKey { get; set; }

    /// <summary>bucket in the path instead of the host name: needed by s3rver and MinIO.</summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>Send and verify checksums only where S3 requires them (s3rver does not understand the newer defaults).</summary>
    public bool ChecksumsWhenRequiredOnly { get; set; } = true;

    /// <summary>aws-chunked request bodies; s3rver stores the framing inside the object, so off by default.</summary>
    public bool UseChunkEncoding { get; set; }

    [Range(1, 600, ErrorMessage = "Storage:TimeoutSeconds (env Storage__TimeoutSeconds): must be from 1 to 600. Fix: e.g. 30.")]
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>How long the circuit stays open (storage requests answer 503 at once) after S3 failed repeatedly.</summary>
    [Range(1, 600, ErrorMessage = "Storage:BreakSeconds (env Storage__BreakSeconds): must be from 1 to 600. Fix: e.g. 30.")]
    public int BreakSeconds { get; set; } = 30;

    /// <summary>Calls within 30 s before failures can open the circuit (it opens when at least half of them failed).</summary>
    [Range(2, 1000, ErrorMessage = "Storage:BreakerMinimumThroughput (env Storage__BreakerMinimumThroughput): must be from 2 to 1000. Fix: e.g. 10.")]
    public int BreakerMinimumThroughput { get; set; } = 10;

    /// <summary>The scheme of presigned URLs: the server's own (http for a local s3rver), https for AWS.</summary>
    public Protocol PresignedUrlProtocol =>
        ServiceUrl?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) == true ? Protocol.HTTP : Protocol.HTTPS;

    public AmazonS3Client CreateClient()
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = ForcePathStyle,
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            MaxErrorRetry = 2,
            AuthenticationRegion = Region,
        };
        if (!string.IsNullOrWhiteSpace(ServiceUrl)) config.ServiceURL = ServiceUrl;
        else config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(Region);
        if (ChecksumsWhenRequiredOnly)
        {
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }
        return string.IsNullOrWhiteSpace(AccessKeyId)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(AccessKeyId, SecretAccessKey), config);
    }
}

public sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var failures = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.ServiceUrl)
            && (!Uri.TryCreate(options.ServiceUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add(new StartupProblem(FlatSettingNames.Describe("Storage:ServiceUrl"), "is not an absolute http(s) URL.",
                "set S3_ENDPOINT to the server's base URL, e.g. https://minio.internal:9000, or unset it for AWS S3.").ToString());
        }
        if (string.IsNullOrWhiteSpace(options.AccessKeyId) != string.IsNullOrWhiteSpace(options.SecretAccessKey))
        {
            failures.Add(new StartupProblem("AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (Storage:AccessKeyId / Storage:SecretAccessKey)",
                "only one of the pair is set.", "set both, or neither to use the default credential chain.").ToString());
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
