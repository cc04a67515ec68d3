using Amazon.Runtime;

namespace Service.Features.Uploads;

/// <summary>How the uploads slices recognise and answer S3 being unavailable.</summary>
public static class StorageFailure
{
    /// <summary>
    /// S3 refused, could not be reached, or the SDK's own timeout fired. The request's cancellation is the client
    /// leaving, not a storage failure.
    /// </summary>
    public static bool IsStorageFailure(this Exception e, CancellationToken requestAborted) =>
        e is AmazonServiceException or HttpRequestException || e is OperationCanceledException && !requestAborted.IsCancellationRequested;

    public static ProblemHttpResult Unavailable(HttpResponse response, string detail)
    {
        response.Headers.RetryAfter = "30";
        return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable", detail: detail);
    }
}
