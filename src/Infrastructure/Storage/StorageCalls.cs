using System.Diagnostics;
using System.Net;
using Amazon.Runtime;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;
using Service.Infrastructure.Observability;
using Service.Infrastructure.Resilience;

namespace Service.Infrastructure.Storage;

/// <summary>
/// Every S3 request of the slices goes through here: a timeout per call, inside a circuit breaker. After repeated
/// failures the circuit opens and calls fail at once with <see cref="BrokenCircuitException"/> (callers answer 503
/// with Retry-After) instead of each request waiting for S3's timeouts.
/// </summary>
public sealed class StorageCalls
{
    private readonly ResiliencePipeline _pipeline;
    private readonly TimeSpan _breakDuration;

    public StorageCalls(IOptions<StorageOptions> options, DependencyPipelines pipelines)
    {
        var settings = options.Value;
        _breakDuration = TimeSpan.FromSeconds(settings.BreakSeconds);
        // No retry here: the SDK already retries its retryable errors (MaxErrorRetry) within this timeout.
        _pipeline = pipelines.Build(new DependencyPolicy("s3", TimeSpan.FromSeconds(settings.TimeoutSeconds), _breakDuration,
            settings.BreakerMinimumThroughput, IsOutage), Circuit);
    }

    public CircuitBreakerStateProvider Circuit { get; } = new();

    /// <param name="operation">The span's name; by default the SDK response type's ("PutObjectResponse" → "PutObject").</param>
    public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken, string? operation = null)
    {
        using var span = ServiceDiagnostics.StartDependencyCall("s3", operation ?? typeof(T).Name.Replace("Response", ""));
        try
        {
            return await _pipeline.ExecuteAsync(async token => await call(token), cancellationToken);
        }
        catch (IOException e)
        {
            // The connection to S3 broke mid-request. Said as a network failure, so that no caller mistakes it for
            // its own client's body failing (an upload would answer 400 instead of 503).
            span?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw new HttpRequestException($"The connection to S3 failed ({e.Message})", e);
        }
        catch (Exception e)
        {
            span?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }
    }

    /// <summary>
    /// S3 is failing, as opposed to answering "no such key" or "forbidden" (the server works; the request does not)
    /// or the caller giving up.
    /// </summary>
    public static bool IsOutage(Exception e, CancellationToken callerToken) => e switch
    {
        AmazonServiceException s => s.StatusCode is 0 or >= HttpStatusCode.InternalServerError or HttpStatusCode.TooManyRequests
            || s.InnerException is HttpRequestException or IOException or OperationCanceledException,
        HttpRequestException or IOException or TimeoutRejectedException => true,
        OperationCanceledException => !callerToken.IsCancellationRequested, // the SDK's own HTTP timeout
        _ => false,
    };

    /// <summary>When to try again after a failure: the rest of the break when the circuit is open, else one break.</summary>
    public TimeSpan RetryAfter(Exception e) => e is BrokenCircuitException { RetryAfter: { } remaining } ? remaining : _breakDuration;
}
