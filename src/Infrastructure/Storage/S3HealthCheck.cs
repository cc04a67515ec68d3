using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Storage;

/// <summary>HeadBucket on the configured bucket: reachable, credentials accepted, bucket present.</summary>
public sealed class S3HealthCheck(IAmazonS3 s3, IOptions<StorageOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        try
        {
            await s3.HeadBucketAsync(new HeadBucketRequest { BucketName = options.Value.Bucket }, cancellationToken);
            return HealthCheckResult.Healthy("bucket reachable");
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return HealthCheckResult.Unhealthy("bucket does not exist");
        }
        catch (AmazonS3Exception e) when (e.StatusCode is System.Net.HttpStatusCode.Forbidden or System.Net.HttpStatusCode.Unauthorized)
        {
            return HealthCheckResult.Unhealthy("credentials refused for the bucket");
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy($"S3 unreachable ({e.GetType().Name})");
        }
    }
}
