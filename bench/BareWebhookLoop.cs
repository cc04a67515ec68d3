using System.Diagnostics;
using Service.Infrastructure.Integrations;

/// <summary>
/// The ceiling the webhook benchmarks compare against: the same signed requests the product sends (envelope,
/// signature and headers built by the same <see cref="WebhookKind"/>), posted by <c>concurrency</c> loops straight to
/// the receiver, nothing durable. Each answer is read to its end. Compiled into each bench project that links it.
/// </summary>
static class BareWebhookLoop
{
    /// <summary>Posts <paramref name="count"/> messages of <paramref name="eventType"/> with <paramref name="dataJson"/>; answers calls per second.</summary>
    public static async Task<double> PostAsync(IntegrationTarget target, string eventType, string dataJson, int count, int concurrency)
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseProxy = false });
        var next = -1;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                var message = new OutboundMessage(Guid.CreateVersion7(), eventType, DateTimeOffset.UtcNow, dataJson);
                using var request = IntegrationKinds.Webhook.BuildRequest(target, message, DateTimeOffset.UtcNow);
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsStringAsync();
            }
        }));
        return count / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }
}
