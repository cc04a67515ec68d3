using Amazon.Runtime;
using Polly;

namespace Service.Features.Uploads;

/// <summary>How the uploads slices recognise and answer S3 being unavailable.</summary>
public static class StorageFailure
{
    /// <summary>
    /// S3 refused, could not be reached, timed out, or its circuit is open. The request's cancellation is the client
    /// leaving, not a storage failure.
    /// </summary>
    public static bool IsStorageFailure(this Exception e, CancellationToken requestAborted) =>
        e is AmazonServiceException or HttpRequestException or ExecutionRejectedException
        || e is OperationCanceledException && !requestAborted.IsCancellationRequested;

    public static ProblemHttpResult Unavailable(HttpResponse response, TimeSpan retryAfter, string detail)
    {
        response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString();
        return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable", detail: detail);
    }
}
