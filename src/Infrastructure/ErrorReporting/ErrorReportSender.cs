using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Service.Infrastructure.Resilience;

namespace Service.Infrastructure.ErrorReporting;

/// <summary>
/// Drains <see cref="ErrorReportQueue"/> to Sentry's envelope endpoint, one envelope at a time. Honours 429 with
/// Retry-After and X-Sentry-Rate-Limits (events are dropped, and counted, until the time given); at shutdown it
/// sends what is queued within ErrorReporting:ShutdownTimeoutSeconds.
/// </summary>
public sealed class ErrorReportSender(
    SentryErrorReporter reporter, ErrorReportQueue queue, IOptions<ErrorReportingOptions> options, DependencyPipelines pipelines, TimeProvider time,
    ILogger<ErrorReportSender> logger)
    : BackgroundService
{
    private HttpClient? _client;
    private ResiliencePipeline? _pipeline;
    private DateTimeOffset _blockedUntil = DateTimeOffset.MinValue;
    private readonly CancellationTokenSource _shutdownDeadline = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (reporter.Dsn is not { } dsn) return;
        var settings = options.Value;
        _client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = TimeSpan.FromSeconds(settings.SendTimeoutSeconds),
        };
        // Retried: an envelope carries its event_id, so Sentry keeps one copy of an event sent twice.
        _pipeline = pipelines.Build(new DependencyPolicy("sentry", TimeSpan.FromSeconds(settings.SendTimeoutSeconds), TimeSpan.FromSeconds(60),
            MinimumThroughput: 5, (e, token) => e is HttpRequestException or IOException || e is TaskCanceledException && !token.IsCancellationRequested,
            Retries: 2), new CircuitBreakerStateProvider());
        var auth = $"Sentry sentry_version=7, sentry_key={dsn.PublicKey}, sentry_client=workflow-service/{SentryErrorReporter.Release}";
        // Reads until the queue is completed at shutdown (not until stoppingToken): what is queued still goes out.
        try
        {
            await foreach (var envelope in queue.Reader.ReadAllAsync(_shutdownDeadline.Token))
            {
                if (time.GetUtcNow() < _blockedUntil)
                {
                    queue.CountRateLimited();
                    continue;
                }
                await SendAsync(dsn, auth, envelope);
            }
        }
        catch (OperationCanceledException) when (_shutdownDeadline.IsCancellationRequested)
        {
            // shutdown timeout: what is left is dropped
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        queue.Complete();
        try
        {
            _shutdownDeadline.CancelAfter(TimeSpan.FromSeconds(options.Value.ShutdownTimeoutSeconds));
        }
        catch (ObjectDisposedException)
        {
            // Stopped and disposed already: a host stopped twice (the test host's Dispose after DisposeAsync).
        }
        await base.StopAsync(cancellationToken);
    }

    private async Task SendAsync(SentryDsn dsn, string auth, byte[] envelope)
    {
        try
        {
            using var response = await _pipeline!.ExecuteAsync(async token =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, dsn.EnvelopeUri) { Content = new ByteArrayContent(envelope) };
                request.Content.Headers.ContentType = new("application/x-sentry-envelope");
                request.Headers.TryAddWithoutValidation("X-Sentry-Auth", auth);
                var answer = await _client!.SendAsync(request, token);
                if ((int)answer.StatusCode < 500) return answer;
                answer.Dispose();
                throw new HttpRequestException($"Sentry answered {(int)answer.StatusCode}", null, answer.StatusCode);
            }, _shutdownDeadline.Token);
            var blockedFor = RateLimit(response);
            if (blockedFor is { } wait)
            {
                _blockedUntil = time.GetUtcNow() + wait;
                logger.LogWarning("Error reporting rate-limited by Sentry for {Seconds} s; errors are dropped meanwhile", (int)wait.TotalSeconds);
            }
            if (response.IsSuccessStatusCode) queue.CountSent();
            else if (response.StatusCode == HttpStatusCode.TooManyRequests) queue.CountRateLimited();
            else queue.CountFailed();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or ExecutionRejectedException)
        {
            queue.CountFailed();
        }
    }

    /// <summary>How long to stop sending: X-Sentry-Rate-Limits for the error category, else Retry-After on a 429.</summary>
    public static TimeSpan? RateLimit(HttpResponseMessage response)
    {
        TimeSpan? longest = null;
        if (response.Headers.TryGetValues("X-Sentry-Rate-Limits", out var limits))
        {
            // "60:error;transaction:key, 2700:default:organization": seconds, categories (empty = all), scope.
            foreach (var limit in string.Join(',', limits).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = limit.Split(':');
                if (!double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)) continue;
                var categories = parts.Length > 1 ? parts[1].Split(';', StringSplitOptions.RemoveEmptyEntries) : [];
                if (categories.Length == 0 || categories.Contains("error") || categories.Contains("default"))
                {
                    var wait = TimeSpan.FromSeconds(seconds);
                    if (longest is null || wait > longest) longest = wait;
                }
            }
            if (longest is not null) return longest;
        }
        if (response.StatusCode != HttpStatusCode.TooManyRequests) return null;
        if (response.Headers.RetryAfter?.Delta is { } delta) return delta;
        if (response.Headers.RetryAfter?.Date is { } date) return date - DateTimeOffset.UtcNow;
        return TimeSpan.FromSeconds(60);
    }

    public override void Dispose()
    {
        _client?.Dispose();
        _shutdownDeadline.Dispose();
        base.Dispose();
    }
}
