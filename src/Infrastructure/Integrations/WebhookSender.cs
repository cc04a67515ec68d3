using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Service.Infrastructure.Integrations;

/// <summary>What one attempt came to. ErrorClass is one of the <see cref="WebhookSender"/> constants, or null when delivered.</summary>
public sealed record AttemptResult(bool Delivered, bool Retryable, int? StatusCode, string? ErrorClass, string? Error, int LatencyMs, string? ResponseExcerpt, TimeSpan? RetryAfter)
{
    /// <summary>The destination's circuit was open: nothing was sent, so the attempt does not count.</summary>
    public bool NotAttempted => ErrorClass == WebhookSender.CircuitOpen;
}

/// <summary>
/// Sends one request and classifies what happened. 2xx is delivered; 408, 429 and 5xx are retried (429 and 503 after
/// the receiver's Retry-After); any other status fails at once. At most 1 KiB of the response is read (a workflow step
/// asks for more, to parse it), so a receiver answering 10 MB or trickling its body costs one excerpt and a closed connection.
/// </summary>
public sealed class WebhookSender(IHttpClientFactory clients, TimeProvider time)
{
    public const string Dns = "dns", RefusedAddress = "refused_address", ConnectionRefused = "connection_refused", Timeout = "timeout",
        Tls = "tls", Network = "network", HttpStatus = "http_status", CircuitOpen = "circuit_open", SecretUnavailable = "secret_unavailable",
        IntegrationDeleted = "integration_deleted";

    public const int ExcerptBytes = 1024;

    public async Task<AttemptResult> SendAsync(string client, HttpRequestMessage request, TimeSpan attemptTimeout, CancellationToken cancellationToken,
        int excerptBytes = ExcerptBytes)
    {
        var started = Stopwatch.GetTimestamp();
        int Elapsed() => (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        try
        {
            // The client's pipeline bounds the wait for headers (a Polly timeout the circuit breaker counts); the excerpt gets as long again.
            using var response = await clients.CreateClient(client).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            using var bodyTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bodyTimeout.CancelAfter(attemptTimeout);
            var excerpt = await ReadExcerptAsync(response.Content, excerptBytes, bodyTimeout.Token);
            var status = (int)response.StatusCode;
            var latency = Elapsed();
            if (status is >= 200 and < 300) return new AttemptResult(true, false, status, null, null, latency, excerpt, null);
            var retryable = status is 408 or 429 or >= 500;
            var retryAfter = status is 429 or 503 ? RetryAfter(response) : null;
            return new AttemptResult(false, retryable, status, HttpStatus, $"The receiver answered {status}.", latency, excerpt, retryAfter);
        }
        catch (BrokenCircuitException e)
        {
            return new AttemptResult(false, true, null, CircuitOpen, "Recent attempts to this destination failed; its circuit is open.", 0, null, e.RetryAfter);
        }
        catch (TimeoutRejectedException)
        {
            return Failure(true, Timeout, $"No response headers within {attemptTimeout.TotalSeconds:0.#} s.", Elapsed());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failure(true, Timeout, $"The response body did not arrive within {attemptTimeout.TotalSeconds:0.#} s.", Elapsed());
        }
        catch (HttpRequestException e)
        {
            return Classify(e, Elapsed());
        }
    }

    private static AttemptResult Failure(bool retryable, string errorClass, string error, int latency) =>
        new(false, retryable, null, errorClass, error, latency, null, null);

    private static AttemptResult Classify(HttpRequestException e, int latency)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                // A configuration problem, not a transient one: retrying would only knock on the same door.
                case RefusedAddressException refused: return Failure(false, RefusedAddress, refused.Message, latency);
                case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData }:
                    return Failure(true, Dns, "The host name does not resolve.", latency);
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused }: return Failure(true, ConnectionRefused, "The destination refused the connection.", latency);
                case AuthenticationException: return Failure(true, Tls, "The TLS handshake failed (certificate or protocol).", latency);
            }
        }
        return Failure(true, Network, $"The connection failed ({e.HttpRequestError}).", latency);
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date) return date - time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        return null;
    }

    private static async Task<string?> ReadExcerptAsync(HttpContent content, int excerptBytes, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[excerptBytes];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0) break;
            read += n;
        }
        if (read == 0) return null;
        var text = Encoding.UTF8.GetString(buffer, 0, read);
        return new string(text.Select(c => char.IsControl(c) && c is not '\n' and not '\t' ? ' ' : c).ToArray());
    }
}
